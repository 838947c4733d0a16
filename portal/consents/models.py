"""同意: a resident's grant to a firm, and the OAuth artefacts that live and die with it.

A `Consent` is one purpose, its exact items, one-time or periodic access, its period and how long the firm
may keep the data, signed by the resident with the card. Codes and tokens are kept only as keyed hashes:
the database never holds a usable credential. Every token names its consent, so revoking the consent ends
every token at once, and a token is checked against its consent (and its firm) on every use.
"""

import uuid
from typing import ClassVar

from django.db import models
from django.utils.translation import gettext_lazy as _

from portal.firms.models import AccessKind, Firm, FirmClient, FirmPurpose
from portal.identity.models import Resident


class ConsentState(models.TextChoices):
    ACTIVE = "active", _("有効")
    USED = "used", _("利用済み")
    EXPIRED = "expired", _("期限切れ")
    REVOKED = "revoked", _("取り消し")
    CONTROLLER_CHANGED = "controller_changed", _("事業者の変更により終了")


class Consent(models.Model):
    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    resident = models.ForeignKey(Resident, on_delete=models.CASCADE, related_name="consents")
    firm = models.ForeignKey(Firm, on_delete=models.PROTECT, related_name="consents")
    client = models.ForeignKey(FirmClient, on_delete=models.PROTECT, related_name="consents")
    purpose = models.ForeignKey(FirmPurpose, on_delete=models.PROTECT, related_name="consents")
    # What the resident read and signed, kept as it was even if the firm's declaration changes later.
    purpose_code = models.CharField(max_length=50)
    purpose_ja = models.CharField(max_length=400)
    purpose_en = models.CharField(max_length=400)
    scopes = models.JSONField(default=list)
    access_kind = models.CharField(max_length=10, choices=AccessKind.choices)
    interval_days = models.PositiveIntegerField(null=True, blank=True)
    retention_days = models.PositiveIntegerField()
    starts_at = models.DateTimeField()
    expires_at = models.DateTimeField()
    state = models.CharField(max_length=20, choices=ConsentState.choices, default=ConsentState.ACTIVE)
    ended_at = models.DateTimeField(null=True, blank=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    # The firm has taken the notice that the consent ended (its callback answered 2xx).
    firm_told_at = models.DateTimeField(null=True, blank=True)
    # The last try at telling it (or the lost-task sweep's resend), and when retries ran out: a consent
    # ended, not told, not failed, with no try for a stall lost its task (portal.core.lost_tasks).
    firm_tell_tried_at = models.DateTimeField(null=True, blank=True)
    firm_tell_failed_at = models.DateTimeField(null=True, blank=True)
    # The resident's signature (portal.identity.services.StepUpProof).
    signing_request_id = models.UUIDField()
    act_digest = models.CharField(max_length=64)
    signer_serial_hash = models.CharField(max_length=64)

    class Meta:
        verbose_name = "同意"
        verbose_name_plural = "同意"
        indexes: ClassVar = [
            models.Index(fields=["resident", "state"], name="consent_resident_state"),
            # The lost-task sweep reads, every minute, only the ended consents the firm was not told of.
            models.Index(
                fields=["ended_at"],
                name="consent_firm_not_told",
                condition=models.Q(
                    ended_at__isnull=False, firm_told_at__isnull=True, firm_tell_failed_at__isnull=True
                ),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.firm.legal_name}: {self.purpose_code} ({self.state})"


class PushedAuthorization(models.Model):
    """RFC 9126: the authorization request a client pushed; the browser carries only its request_uri."""

    handle_hash = models.CharField(max_length=64, unique=True)
    client = models.ForeignKey(FirmClient, on_delete=models.CASCADE, related_name="+")
    params = models.JSONField()
    expires_at = models.DateTimeField()
    used_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"pushed request {self.pk}"


class AuthorizationCode(models.Model):
    code_hash = models.CharField(max_length=64, unique=True)
    client = models.ForeignKey(FirmClient, on_delete=models.CASCADE, related_name="+")
    consent = models.ForeignKey(Consent, on_delete=models.CASCADE, related_name="codes")
    redirect_uri = models.CharField(max_length=400)
    scope = models.CharField(max_length=1000)
    code_challenge = models.CharField(max_length=128)
    code_challenge_method = models.CharField(max_length=10)
    nonce = models.CharField(max_length=255, blank=True)
    # RFC 9449 section 10: the DPoP key the client named when it pushed the request, if it did.
    dpop_jkt = models.CharField(max_length=64, blank=True)
    auth_time = models.DateTimeField()
    expires_at = models.DateTimeField()
    used_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"code {self.pk}"

    # authlib's AuthorizationCodeMixin (OpenID Connect's) and what its PKCE extension reads.
    def get_redirect_uri(self) -> str:
        return self.redirect_uri

    def get_scope(self) -> str:
        return self.scope

    def get_nonce(self) -> str:
        return self.nonce

    def get_auth_time(self) -> int:
        return int(self.auth_time.timestamp())

    def get_acr(self) -> str:
        return ""

    def get_amr(self) -> list[str]:
        # The card: something held (the chip's key) and something known (the PIN).
        return ["hwk", "pin"]


class IssuedToken(models.Model):
    consent = models.ForeignKey(Consent, on_delete=models.CASCADE, related_name="tokens")
    client = models.ForeignKey(FirmClient, on_delete=models.CASCADE, related_name="+")
    code = models.ForeignKey(AuthorizationCode, null=True, blank=True, on_delete=models.SET_NULL)
    access_token_hash = models.CharField(max_length=64, unique=True)
    refresh_token_hash = models.CharField(max_length=64, unique=True, null=True, blank=True)
    scope = models.CharField(max_length=1000)
    # The thumbprint of the client's DPoP key (RFC 7638); the token works only with proofs by that key.
    dpop_jkt = models.CharField(max_length=64)
    issued_at = models.DateTimeField()
    expires_at = models.DateTimeField()
    refresh_expires_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes: ClassVar = [models.Index(fields=["consent", "revoked_at"], name="issued_token_consent")]

    def __str__(self) -> str:
        return f"token {self.pk}"

    # authlib's TokenMixin: what its refresh, revocation and introspection endpoints read.
    def check_client(self, client) -> bool:
        return client.get_client_id() == self.client.client_id

    def get_scope(self) -> str:
        return self.scope

    def get_expires_in(self) -> int:
        return int((self.expires_at - self.issued_at).total_seconds())

    def is_expired(self) -> bool:
        from django.utils import timezone

        return self.expires_at <= timezone.now()

    def is_revoked(self) -> bool:
        return self.revoked_at is not None

    def get_user(self) -> Consent:
        return self.consent


class PullRecord(models.Model):
    """When a consent's item was last released: periodic access allows one pull per interval."""

    consent = models.ForeignKey(Consent, on_delete=models.CASCADE, related_name="pulls")
    category = models.CharField(max_length=50)
    pulled_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["consent", "category"], name="pull_record_consent_category")
        ]

    def __str__(self) -> str:
        return f"{self.category} at {self.pulled_at}"
