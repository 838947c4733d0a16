from django.urls import path

from portal.firms import views

app_name = "firms"

urlpatterns = [
    path("developers/", views.developers, name="developers"),
    path("developers/applied/", views.applied, name="applied"),
    path("developers/api/", views.api_contract, name="api"),
    path("developers/<uuid:public_id>/", views.manage, name="manage"),
    path("developers/<uuid:public_id>/redirect-uris/", views.redirect_uris_update, name="redirect-uris"),
    path("developers/<uuid:public_id>/jwks/", views.jwks_update, name="jwks"),
]
