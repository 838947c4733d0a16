from django.urls import path

from portal.consents import views

app_name = "consents"

urlpatterns = [
    path(".well-known/openid-configuration", views.openid_configuration, name="openid-configuration"),
    path("oauth/jwks", views.jwks, name="jwks"),
    path("oauth/par", views.pushed_authorization, name="par"),
    path("oauth/authorize", views.authorize, name="authorize"),
    path("oauth/authorize/<int:pushed_id>/decision", views.decide, name="decide"),
    path("oauth/token", views.token, name="token"),
    path("oauth/revoke", views.revoke, name="revoke"),
    path("oauth/introspect", views.introspect, name="introspect"),
    path("consents/", views.consent_list, name="list"),
    path("consents/<uuid:consent_id>/revoke", views.consent_revoke, name="revoke-consent"),
]
