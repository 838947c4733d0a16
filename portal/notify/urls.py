from django.urls import path

from portal.notify import views

app_name = "notify"

urlpatterns = [
    path("settings/notifications/", views.notification_settings, name="settings"),
    path("settings/notifications/email/", views.email_settings, name="email"),
    path("settings/notifications/email/confirm/<str:token>/", views.email_confirm, name="email-confirm"),
    path("settings/notifications/push/", views.push_subscription, name="push"),
    path(
        "settings/notifications/push/<int:subscription_id>/delete/",
        views.push_device_delete,
        name="device-delete",
    ),
    path("sw.js", views.service_worker, name="service-worker"),
]
