from django.urls import path

from portal.identity import views

app_name = "identity"

urlpatterns = [
    path("login/", views.login_page, name="login"),
    path("login/<uuid:request_id>/complete/", views.login_complete_view, name="login-complete"),
    path("login/register/<uuid:request_id>/", views.register_page, name="register"),
    path("logout/", views.logout_view, name="logout"),
    path("signing/<uuid:request_id>/", views.signing_request_json, name="signing-request"),
    path("signing/<uuid:request_id>/response/", views.signing_response, name="signing-response"),
    path("signing/<uuid:request_id>/status/", views.signing_status, name="signing-status"),
    path("stepup/<uuid:request_id>/", views.stepup_page, name="stepup"),
]
