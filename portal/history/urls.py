from django.urls import path

from portal.history import views

app_name = "history"

urlpatterns = [
    path("history/", views.history_page, name="list"),
    path("history/alerts/", views.alert_settings, name="alert-settings"),
    path("audit/", views.audit_page, name="audit"),
]
