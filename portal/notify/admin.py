"""Staff views of notifications: what was sent when and how it went. No endpoint, key, address or
content is shown here (there is no content to show)."""

from django.contrib import admin
from django.http import HttpRequest

from portal.notify.models import Delivery, PushSubscription


class _ReadOnly(admin.ModelAdmin):
    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


@admin.register(Delivery)
class DeliveryAdmin(_ReadOnly):
    list_display = (
        "created_at",
        "resident",
        "kind",
        "category",
        "channel",
        "status",
        "error_code",
        "attempts",
    )
    list_filter = ("status", "channel", "kind", "category", "error_code")
    list_select_related = ("resident",)
    fields = (
        "resident",
        "kind",
        "category",
        "channel",
        "subscription",
        "url",
        "status",
        "due_at",
        "created_at",
        "sent_at",
        "attempts",
        "error_code",
    )


@admin.register(PushSubscription)
class PushSubscriptionAdmin(_ReadOnly):
    list_display = ("pk", "resident", "user_agent", "created_at", "last_success_at", "failure_count")
    list_select_related = ("resident",)
    fields = ("resident", "user_agent", "created_at", "last_success_at", "failure_count")
