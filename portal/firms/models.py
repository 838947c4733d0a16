"""民間事業者: firms that pull residents' data through the consent API, after the portal has reviewed them.

A firm applies on /developers/ with what it wants and why (one `FirmPurpose` per purpose, each naming its
scopes); staff approve or reject it with a reason. An approved firm gets a sandbox client (demo residents
only), then, when staff allow it, a production client. Suspending a firm stops its tokens at once. A change
of controller (a merger, a transfer) is recorded; every resident with an active consent must consent again.
"""

import uuid
from typing import ClassVar

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class FirmState(models.TextChoices):
    APPLIED = "applied", _("審査中")
    APPROVED = "approved", _("承認")
    REJECTED = "rejected", _("不承認")
    SUSPENDED = "suspended", _("停止中")


class Firm(models.Model):
    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    legal_name = models.CharField(max_length=200)
    legal_name_en = models.CharField(max_length=200, blank=True)
    # 法人番号: 13 digits, the first a check digit (verified on application).
    corporate_number = models.CharField(max_length=13)
    address = models.CharField(max_length=400)
    contact_name = models.CharField(max_length=100)
    contact_email = models.EmailField()
    contact_phone = models.CharField(max_length=20, blank=True)
    privacy_policy_url = models.URLField(max_length=400)
    # How long the firm keeps what it receives, in days, as it declared (shown on the consent screen).
    retention_days = models.PositiveIntegerField()
    state = models.CharField(max_length=10, choices=FirmState.choices, default=FirmState.APPLIED)
    # Production access is a second decision, after the firm has run the sandbox.
    production_allowed = models.BooleanField(default=False)
    decision_reason = models.CharField(max_length=400, blank=True)
    reviewed_at = models.DateTimeField(null=True, blank=True)
    reviewed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    suspended_at = models.DateTimeField(null=True, blank=True)
    applied_at = models.DateTimeField(default=timezone.now)
    # Secret part of the firm's own page /developers/<public_id>/ (shown once, stored as a keyed hash).
    manage_token_hash = models.CharField(max_length=64, blank=True)
    # What the firm declared for its clients; copied to each FirmClient when it is made and kept in step
    # with them (portal.firms.services is the only writer of both).
    redirect_uris = models.JSONField(default=list)
    jwks = models.JSONField(default=dict)
    callback_url = models.URLField(max_length=400)

    class Meta:
        verbose_name = "民間事業者"
        verbose_name_plural = "民間事業者"
        indexes: ClassVar = [models.Index(fields=["corporate_number"], name="firm_corporate_number")]

    def __str__(self) -> str:
        return f"{self.legal_name} ({self.corporate_number})"

    def display_name(self, language: str) -> str:
        return self.legal_name_en if language == "en" and self.legal_name_en else self.legal_name


class AccessKind(models.TextChoices):
    ONE_TIME = "one_time", _("1回限り")
    PERIODIC = "periodic", _("定期的")


class FirmPurpose(models.Model):
    """One purpose of use the firm declared: the scopes it needs for it and how it pulls and keeps them."""

    firm = models.ForeignKey(Firm, on_delete=models.CASCADE, related_name="purposes")
    code = models.SlugField(max_length=50)
    description_ja = models.CharField(max_length=400)
    description_en = models.CharField(max_length=400)
    scopes = models.JSONField(default=list)
    access_kind = models.CharField(max_length=10, choices=AccessKind.choices)
    # Periodic access: at most one pull of each item per this many days.
    interval_days = models.PositiveIntegerField(null=True, blank=True)
    # How long a consent for this purpose lasts (medical data at most 90 days when periodic).
    access_days = models.PositiveIntegerField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["firm", "code"], name="firm_purpose_code_unique")]

    def __str__(self) -> str:
        return f"{self.firm.legal_name}: {self.code}"

    def description(self, language: str) -> str:
        return self.description_en if language == "en" else self.description_ja


class ClientEnvironment(models.TextChoices):
    SANDBOX = "sandbox", _("検証環境")
    PRODUCTION = "production", _("本番環境")


class FirmClient(models.Model):
    """The firm's OAuth client: its id, where it may be sent back to, and the public keys it signs with."""

    firm = models.ForeignKey(Firm, on_delete=models.CASCADE, related_name="clients")
    client_id = models.CharField(max_length=64, unique=True)
    environment = models.CharField(max_length=10, choices=ClientEnvironment.choices)
    redirect_uris = models.JSONField(default=list)
    # The public keys of private_key_jwt client assertions (a JWKS; no private key is ever held here).
    jwks = models.JSONField(default=dict)
    # Told (a signed POST) when a consent ends, so that the firm stops pulling and deletes what it must.
    callback_url = models.URLField(max_length=400, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = "OAuth client"
        constraints = [
            models.UniqueConstraint(fields=["firm", "environment"], name="firm_client_one_per_environment")
        ]

    def __str__(self) -> str:
        return f"{self.client_id} ({self.environment})"


class ControllerChange(models.Model):
    """事業承継: the firm's data passed to another controller; every active consent must be given again."""

    firm = models.ForeignKey(Firm, on_delete=models.CASCADE, related_name="controller_changes")
    previous_legal_name = models.CharField(max_length=200)
    previous_legal_name_en = models.CharField(max_length=200, blank=True)
    previous_corporate_number = models.CharField(max_length=13)
    new_legal_name = models.CharField(max_length=200)
    new_legal_name_en = models.CharField(max_length=200, blank=True)
    new_corporate_number = models.CharField(max_length=13)
    reason = models.CharField(max_length=400)
    effective_on = models.DateField()
    recorded_at = models.DateTimeField(auto_now_add=True)
    recorded_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    # Active consents when the change was recorded: each must be given again (portal.consents ends them on
    # the signal portal.firms.signals.controller_changed).
    consents_affected = models.PositiveIntegerField(default=0)
    # When portal.consents ended those consents (its task end_for_controller_change), and when the
    # lost-task sweep last sent that task again: until then the ending is owed (portal.core.lost_tasks).
    consents_ended_at = models.DateTimeField(null=True, blank=True)
    resent_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"{self.previous_legal_name} → {self.new_legal_name}"


class FirmEventKind(models.TextChoices):
    APPLIED = "applied", _("申請を受け付けました")
    APPROVED = "approved", _("承認されました")
    REJECTED = "rejected", _("承認されませんでした")
    PRODUCTION_ALLOWED = "production_allowed", _("本番環境の利用が認められました")
    SUSPENDED = "suspended", _("利用が停止されました")
    UNSUSPENDED = "unsuspended", _("利用の停止が解除されました")
    CONTROLLER_CHANGED = "controller_changed", _("事業者の変更が記録されました")
    REDIRECT_URIS_CHANGED = "redirect_uris_changed", _("リダイレクトURIが変更されました")
    JWKS_CHANGED = "jwks_changed", _("公開鍵（JWKS）が変更されました")


class FirmEvent(models.Model):
    """What happened to a firm's application and registration, by whom and why; each is told to the firm
    by e-mail (the task firms.send_event_mail), and whether that mail went out is kept here for staff."""

    firm = models.ForeignKey(Firm, on_delete=models.CASCADE, related_name="events")
    kind = models.CharField(max_length=30, choices=FirmEventKind.choices)
    at = models.DateTimeField(default=timezone.now)
    staff = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    reason = models.CharField(max_length=400, blank=True)
    mailed_at = models.DateTimeField(null=True, blank=True)
    mail_failed_at = models.DateTimeField(null=True, blank=True)
    mail_error = models.CharField(max_length=40, blank=True)
    # The last try at mailing it, or the lost-task sweep's last resend: a mail neither sent nor failed
    # with no try for a stall lost its task (portal.core.lost_tasks).
    mail_tried_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = "民間事業者の記録"
        verbose_name_plural = "民間事業者の記録"
        ordering: ClassVar = ["-at", "-pk"]

    def __str__(self) -> str:
        return f"{self.firm.legal_name}: {self.kind}"
