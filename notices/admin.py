"""Staff views of the notice inbox: agency clients (registered here), notices, webhook deliveries.

No list or form here shows a resident's answer or an attachment's content: answers go to the agency,
and staff see only delivery states (with a "send again" for dead-lettered deliveries).
"""

from typing import Any

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from notices.api.auth import keyset_from_jwks
from notices.models import AgencyClient, DeliveryState, Notice, WebhookDelivery
from notices.services import webhook_retry
from portal.agencies.codes import agency_registry


class AgencyClientForm(forms.ModelForm):
    webhook_secret = forms.CharField(
        required=False,
        widget=forms.PasswordInput(render_value=False),
        help_text="shared with the agency; leave empty to keep the current one",
    )

    class Meta:
        model = AgencyClient
        fields = ("client_id", "agency_id", "name", "jwks", "webhook_url", "webhook_secret", "active")

    def clean_agency_id(self) -> str:
        agency_id = self.cleaned_data["agency_id"]
        if agency_id not in agency_registry():
            raise forms.ValidationError("Not an agency of the agency registry.")
        return agency_id

    def clean_jwks(self) -> Any:
        jwks = self.cleaned_data["jwks"]
        try:
            keyset_from_jwks(jwks)
        except ValueError as exc:
            raise forms.ValidationError(str(exc)) from exc
        return jwks

    def clean_webhook_url(self) -> str:
        url = self.cleaned_data["webhook_url"]
        if url and settings.PRODUCTION and not url.startswith("https://"):
            raise forms.ValidationError("Webhooks must use https.")
        return url

    def clean_webhook_secret(self) -> str:
        secret = self.cleaned_data["webhook_secret"]
        if not secret:
            return self.instance.webhook_secret if self.instance.pk else ""
        if len(secret) < 32:
            raise forms.ValidationError("At least 32 characters.")
        return secret


@admin.register(AgencyClient)
class AgencyClientAdmin(admin.ModelAdmin):
    form = AgencyClientForm
    list_display = ("name", "client_id", "agency_id", "webhook_url", "active", "created_at")
    list_filter = ("active", "agency_id")
    search_fields = ("name", "client_id")


@admin.register(Notice)
class NoticeAdmin(admin.ModelAdmin):
    list_display = ("sent_at", "agency_id", "title_ja", "category", "audience", "action", "deadline")
    list_filter = ("audience", "action", "category", "agency_id")
    search_fields = ("=public_id", "=idempotency_key")
    # Staff see what was sent and to which segment, never to whom: no recipient here.
    fields = (
        "public_id",
        "client",
        "agency_id",
        "idempotency_key",
        "category",
        "title_ja",
        "title_en",
        "body_ja",
        "body_en",
        "deadline",
        "action",
        "form_schema",
        "prefill",
        "requires_signature",
        "audience",
        "segment_municipality",
        "segment_min_age",
        "segment_max_age",
        "sent_at",
    )
    readonly_fields = fields

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(admin.ModelAdmin):
    list_display = (
        "created_at",
        "client",
        "event_type",
        "state",
        "attempts",
        "last_status",
        "last_error",
        "next_attempt_at",
        "delivered_at",
    )
    list_filter = ("state", "client")
    search_fields = ("=public_id",)
    exclude = ("payload", "response")
    readonly_fields = (
        "public_id",
        "client",
        "event_type",
        "state",
        "attempts",
        "last_attempt_at",
        "next_attempt_at",
        "last_status",
        "last_error",
        "delivered_at",
        "created_at",
    )
    actions = ("send_again",)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    @admin.action(description="Send again (a fresh allowance of attempts)")
    def send_again(self, request: HttpRequest, queryset: QuerySet[WebhookDelivery]) -> None:
        queued = 0
        for delivery in queryset.exclude(state=DeliveryState.DELIVERED):
            webhook_retry(delivery_id=delivery.pk)
            queued += 1
        self.message_user(request, f"{queued} deliveries queued again.", messages.SUCCESS)
