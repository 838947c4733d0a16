"""通知: how the portal tells residents that something arrived (Web Push, e-mail), and what it sent.

Nothing here holds the content of a message: a push or a mail says only that something is waiting in
the portal. Push endpoints, their auth secrets and e-mail addresses are stored encrypted (SPEC 2.5).
"""

from typing import ClassVar

from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from portal.core.fields import EncryptedTextField
from portal.identity.models import Resident
from portal.notify.categories import CATEGORY_CODES


def _all_categories() -> list[str]:
    return list(CATEGORY_CODES)


class PushSubscription(models.Model):
    """One browser or phone that asked for pushes (the PushSubscription a browser hands out).

    The endpoint belongs to one resident at a time: a shared device subscribed again by someone else
    moves to them. Found by a keyed hash of the endpoint, which itself is stored only encrypted.
    """

    resident = models.ForeignKey(Resident, on_delete=models.CASCADE, related_name="push_subscriptions")
    endpoint = EncryptedTextField()
    endpoint_hash = models.CharField(max_length=64, unique=True)
    # The subscriber's P-256 public key (65 bytes) and auth secret (16 bytes), base64url without padding.
    p256dh = models.CharField(max_length=87)
    auth = EncryptedTextField()
    user_agent = models.CharField(max_length=60, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    last_success_at = models.DateTimeField(null=True, blank=True)
    # Final failures in a row (not counting retries); a subscription that keeps failing is removed.
    failure_count = models.PositiveIntegerField(default=0)

    def __str__(self) -> str:
        return f"push subscription {self.pk} ({self.user_agent or 'browser'})"


class NotificationPreference(models.Model):
    """What the resident wants to hear about, how, and when not."""

    resident = models.OneToOneField(
        Resident, on_delete=models.CASCADE, primary_key=True, related_name="notification_preference"
    )
    # Used only once confirmed through the signed link sent to it; until then it waits in email_pending.
    email = EncryptedTextField(blank=True, default="")
    email_verified_at = models.DateTimeField(null=True, blank=True)
    email_pending = EncryptedTextField(blank=True, default="")
    email_pending_since = models.DateTimeField(null=True, blank=True)
    # Category codes (portal.notify.categories) that may be pushed, and mailed.
    push_categories = models.JSONField(default=_all_categories)
    email_categories = models.JSONField(default=_all_categories)
    # Asia/Tokyo wall-clock times; pushes due between them wait until the end. Both set or neither.
    quiet_start = models.TimeField(null=True, blank=True)
    quiet_end = models.TimeField(null=True, blank=True)
    # The language of push texts: the one the resident used when they last saved or subscribed.
    language = models.CharField(max_length=5, default="ja")
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"notification preference of {self.resident_id}"

    @property
    def email_in_use(self) -> str:
        return self.email if self.email and self.email_verified_at else ""


class Channel(models.TextChoices):
    PUSH = "push", _("プッシュ通知")
    EMAIL = "email", _("メール")


class DeliveryStatus(models.TextChoices):
    HELD = "held", _("保留中")  # quiet hours, or an alert not yet to be disclosed
    QUEUED = "queued", _("送信待ち")
    SENT = "sent", _("送信済み")
    GONE = "gone", _("端末の登録が無効になりました")
    SKIPPED = "skipped", _("送信しませんでした")  # the preference changed before it was due
    FAILED = "failed", _("送信できませんでした")


class Delivery(models.Model):
    """One message to one device or mailbox: what kind, when, how it went. Never its content."""

    resident = models.ForeignKey(Resident, on_delete=models.CASCADE, related_name="notification_deliveries")
    kind = models.CharField(max_length=20)
    category = models.CharField(max_length=20)
    channel = models.CharField(max_length=10, choices=Channel.choices)
    subscription = models.ForeignKey(
        PushSubscription, on_delete=models.SET_NULL, null=True, blank=True, related_name="deliveries"
    )
    # The portal page the message links to (a path on the portal, never another site).
    url = models.CharField(max_length=200)
    status = models.CharField(max_length=10, choices=DeliveryStatus.choices)
    due_at = models.DateTimeField()
    created_at = models.DateTimeField(auto_now_add=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveIntegerField(default=0)
    error_code = models.CharField(max_length=40, blank=True)
    # Set by callers whose request may run twice (a redelivered task): a second one makes nothing.
    dedupe_key = models.CharField(max_length=100, blank=True)

    class Meta:
        verbose_name_plural = "deliveries"
        indexes: ClassVar = [
            models.Index(fields=["resident", "-created_at"]),
            # The beat's scan for due held (and stalled queued) messages reads only those rows.
            models.Index(
                fields=["status", "due_at"],
                condition=Q(status__in=["held", "queued"]),
                name="notify_delivery_waiting",
            ),
            models.Index(
                fields=["resident", "dedupe_key"], condition=~Q(dedupe_key=""), name="notify_dedupe"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.channel} {self.kind} for {self.resident_id}: {self.status}"
