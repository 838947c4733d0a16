"""お知らせ: notices that agencies send residents, the residents' answers, and their delivery to the agency.

A notice to one resident names that resident; a broadcast (a municipality, an age range, everyone) is one
row that every matching inbox finds at query time, never a copy per resident. What a resident did with a
notice (read, archived, answered) is a state row made on first interaction. Answers, attachments and
webhook payloads are encrypted at rest (SPEC 2.5); agencies are known by their registered client, and
residents, towards an agency, only by that agency's code (SPEC 2.2).
"""

import uuid
from typing import ClassVar

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from portal.core.fields import EncryptedTextField
from portal.identity.models import Resident


class AgencyClient(models.Model):
    """行政機関の接続登録: a system of an agency allowed to use the agency API, registered by staff.

    It proves itself with client assertions signed by a key of its JWKS; answers to its notices go to its
    webhook, signed with the webhook secret.
    """

    client_id = models.CharField(max_length=100, unique=True, help_text="iss and sub of its assertions")
    agency_id = models.CharField(max_length=64, help_text="the agency's id in the agency registry")
    name = models.CharField(max_length=200, help_text="what staff call this system")
    jwks = models.JSONField(help_text='its public keys: {"keys": [...]} (ES256 or RS256, each with a kid)')
    webhook_url = models.URLField(max_length=500, blank=True)
    webhook_secret = EncryptedTextField(blank=True, default="")
    active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    # DRF treats whatever authentication returns as the request's user.
    is_authenticated = True

    def __str__(self) -> str:
        return f"{self.name} ({self.client_id})"


class ResidentAgencyCode(models.Model):
    """機関別符号の索引: which resident an agency's code names, found by a keyed hash of the code.

    Filled when a resident's user folder opens (and by ``manage.py fill_agency_codes``), so that an agency's
    notice finds its recipient with one indexed look-up instead of deriving every resident's code.
    """

    resident = models.ForeignKey(Resident, on_delete=models.CASCADE, related_name="agency_codes")
    agency_id = models.CharField(max_length=64)
    code_hash = models.CharField(max_length=64)

    class Meta:
        constraints: ClassVar = [
            models.UniqueConstraint(fields=["agency_id", "code_hash"], name="notices_agency_code_unique"),
            models.UniqueConstraint(fields=["resident", "agency_id"], name="notices_resident_agency_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.agency_id} code of resident {self.resident_id}"


class Audience(models.TextChoices):
    RESIDENT = "resident", _("個人あて")
    BROADCAST = "broadcast", _("一斉配信")


class Action(models.TextChoices):
    NONE = "none", _("回答不要")
    CONFIRM = "confirm", _("確認")
    FORM = "form", _("回答フォーム")


class Notice(models.Model):
    """お知らせ: one message of one agency, to one resident or to a segment (stored once)."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    client = models.ForeignKey(AgencyClient, on_delete=models.PROTECT, related_name="notices")
    agency_id = models.CharField(max_length=64)
    sender_name_ja = models.CharField(max_length=200)
    sender_name_en = models.CharField(max_length=200)
    # The agency's Idempotency-Key and a digest of what it sent with it: a repeat is answered, not stored.
    idempotency_key = models.CharField(max_length=200)
    request_digest = models.CharField(max_length=64)
    category = models.CharField(max_length=40)
    title_ja = models.CharField(max_length=200)
    title_en = models.CharField(max_length=200, blank=True)
    # A small Markdown subset, checked on arrival and rendered by notices.markup.
    body_ja = models.TextField()
    body_en = models.TextField(blank=True)
    deadline = models.DateTimeField(null=True, blank=True)
    action = models.CharField(max_length=10, choices=Action.choices, default=Action.NONE)
    # For ``form``: a JSON Schema (an object of fields) and where fields are pre-filled from:
    # [{"field": "household_members", "from": "household.members"}].
    form_schema = models.JSONField(null=True, blank=True)
    # The fields in the agency's order (PostgreSQL's jsonb keeps object keys in an order of its own).
    form_field_order = models.JSONField(default=list, blank=True)
    prefill = models.JSONField(default=list, blank=True)
    requires_signature = models.BooleanField(default=False)
    audience = models.CharField(max_length=10, choices=Audience.choices)
    recipient = models.ForeignKey(
        Resident, null=True, blank=True, on_delete=models.CASCADE, related_name="notices"
    )
    # A broadcast's segment, as the agency gave it, and as matched: an address prefix and a birth-date
    # range computed from the age range on the day it was sent. All empty: everyone.
    segment_municipality = models.CharField(max_length=100, blank=True)
    segment_min_age = models.PositiveSmallIntegerField(null=True, blank=True)
    segment_max_age = models.PositiveSmallIntegerField(null=True, blank=True)
    segment_born_from = models.DateField(null=True, blank=True)
    segment_born_to = models.DateField(null=True, blank=True)
    sent_at = models.DateTimeField(default=timezone.now)
    # When its recipients were told it arrived (the task announce_notice ended), and the last sign of life
    # of that task (begun, a chunk of a broadcast told, or sent again by the lost-task sweep): a notice not
    # announced with no sign of life for a stall lost its task (portal.core.lost_tasks).
    announced_at = models.DateTimeField(null=True, blank=True)
    announce_tried_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints: ClassVar = [
            models.UniqueConstraint(fields=["agency_id", "idempotency_key"], name="notices_idempotency"),
            models.CheckConstraint(
                condition=(models.Q(audience="resident") & models.Q(recipient__isnull=False))
                | (models.Q(audience="broadcast") & models.Q(recipient__isnull=True)),
                name="notices_audience_recipient",
            ),
        ]
        indexes: ClassVar = [
            models.Index(fields=["recipient", "-sent_at"], name="notices_recipient_sent"),
            models.Index(
                fields=["-sent_at"], name="notices_broadcast_sent", condition=models.Q(recipient__isnull=True)
            ),
            # The lost-task sweep reads, every minute, only the notices not yet announced.
            models.Index(
                fields=["sent_at"],
                name="notices_not_announced",
                condition=models.Q(announced_at__isnull=True),
            ),
        ]
        # PostgreSQL: trigram indexes on the titles (migration 0002) for the inbox search.

    def __str__(self) -> str:
        return f"{self.agency_id}: {self.title_ja}"

    def title(self, language: str) -> str:
        return self.title_en if language == "en" and self.title_en else self.title_ja

    def body(self, language: str) -> str:
        return self.body_en if language == "en" and self.body_en else self.body_ja

    def sender_name(self, language: str) -> str:
        return self.sender_name_en if language == "en" else self.sender_name_ja

    @property
    def needs_answer(self) -> bool:
        return self.action != Action.NONE


class NoticeAttachment(models.Model):
    """添付ファイル: a PDF, checked on arrival, stored encrypted with the row's own associated data."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    notice = models.ForeignKey(Notice, on_delete=models.CASCADE, related_name="attachments")
    position = models.PositiveSmallIntegerField()
    filename = models.CharField(max_length=120)
    content_type = models.CharField(max_length=50, default="application/pdf")
    size = models.PositiveIntegerField()
    sha256 = models.CharField(max_length=64)
    key_id = models.CharField(max_length=32)
    # nonce || AES-GCM ciphertext (notices.attachments).
    ciphertext = models.BinaryField()

    class Meta:
        ordering: ClassVar = ["notice", "position"]
        constraints: ClassVar = [
            models.UniqueConstraint(fields=["notice", "position"], name="notices_attachment_position")
        ]

    def __str__(self) -> str:
        return self.filename


class NoticeState(models.Model):
    """What one resident did with one notice; made on first interaction, never before."""

    notice = models.ForeignKey(Notice, on_delete=models.CASCADE, related_name="states")
    resident = models.ForeignKey(Resident, on_delete=models.CASCADE, related_name="notice_states")
    read_at = models.DateTimeField(null=True, blank=True)
    archived_at = models.DateTimeField(null=True, blank=True)
    responded_at = models.DateTimeField(null=True, blank=True)
    # When the resident was reminded of the deadline (notices.reminders): once per notice.
    reminded_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints: ClassVar = [
            models.UniqueConstraint(fields=["resident", "notice"], name="notices_state_resident_notice")
        ]
        indexes: ClassVar = [
            models.Index(fields=["notice", "read_at"], name="notices_state_read"),
        ]

    def __str__(self) -> str:
        return f"state of notice {self.notice_id} for resident {self.resident_id}"


class NoticeResponse(models.Model):
    """回答: a resident's answer to a notice, given by them or by their proxy, with the signature step-up's
    proof when one was asked for."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    notice = models.ForeignKey(Notice, on_delete=models.PROTECT, related_name="responses")
    resident = models.ForeignKey(Resident, on_delete=models.PROTECT, related_name="notice_responses")
    # The answer as JSON text (``{}`` for a confirmation), encrypted.
    answers = EncryptedTextField()
    submitted_at = models.DateTimeField(default=timezone.now)
    # The step-up proof (portal.identity.services.StepUpProof); the serial hash never leaves the portal.
    signed = models.BooleanField(default=False)
    stepup_request_id = models.CharField(max_length=36, blank=True)
    stepup_act_digest = models.CharField(max_length=64, blank=True)
    signed_at = models.DateTimeField(null=True, blank=True)
    signer_serial_hash = models.CharField(max_length=64, blank=True)
    # Answered by a proxy for the resident (issue 7): who, and under which grant; empty when the resident
    # answered. The proxy signed with their own card (signer_serial_hash is theirs).
    proxy = models.ForeignKey(
        Resident,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="notice_responses_as_proxy",
    )
    proxy_grant = models.ForeignKey(
        "proxies.ProxyGrant",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="notice_responses",
    )

    class Meta:
        constraints: ClassVar = [
            models.UniqueConstraint(fields=["notice", "resident"], name="notices_one_response")
        ]

    def __str__(self) -> str:
        return f"response {self.public_id}"

    @property
    def receipt_number(self) -> str:
        """What the resident quotes to the agency: the first 12 hex digits of the response id."""
        return self.public_id.hex[:12].upper()


class DeliveryState(models.TextChoices):
    PENDING = "pending", _("送信待ち")
    RETRYING = "retrying", _("再送待ち")
    DELIVERED = "delivered", _("送信済み")
    DEAD = "dead", _("送信できませんでした")


class WebhookDelivery(models.Model):
    """One event for an agency's webhook, sent until taken or dead-lettered. Its id is the event id."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    client = models.ForeignKey(AgencyClient, on_delete=models.PROTECT, related_name="deliveries")
    response = models.ForeignKey(
        NoticeResponse, null=True, blank=True, on_delete=models.PROTECT, related_name="deliveries"
    )
    event_type = models.CharField(max_length=40)
    # The JSON body, exactly as sent every time (the signature covers it), encrypted.
    payload = EncryptedTextField()
    state = models.CharField(max_length=10, choices=DeliveryState.choices, default=DeliveryState.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    last_attempt_at = models.DateTimeField(null=True, blank=True)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    last_status = models.PositiveSmallIntegerField(null=True, blank=True)
    # A short code for the last failure (``http_500``, ``timeout``, ``connect``, ``no_webhook``).
    last_error = models.CharField(max_length=50, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name_plural = "webhook deliveries"
        indexes: ClassVar = [models.Index(fields=["state", "next_attempt_at"], name="notices_delivery_due")]

    def __str__(self) -> str:
        return f"{self.event_type} {self.public_id} ({self.state})"
