from django.urls import path

from portal.history import views
from portal.history.root_views import root_urlpatterns

app_name = "history"

urlpatterns = [
    path("history/", views.history_page, name="list"),
    path("history/alerts/", views.alert_settings, name="alert-settings"),
    path("history/export.<str:fmt>", views.history_export, name="export"),
    path("audit/", views.audit_page, name="audit"),
    *root_urlpatterns,
]
