"""代理人: a person who acts for a resident (the principal) within scopes the principal granted.

A grant starts as an invitation (a one-time code, stored only as a keyed hash, with an expiry), becomes
"accepted" when the invitee logs in with their own card and takes it, and "active" only once the principal
has signed it with the step-up. Either side ends it at once.
"""

import uuid
from typing import ClassVar

from django.db import models
from django.utils.translation import gettext_lazy as _

from portal.identity.models import Resident


class GrantKind(models.TextChoices):
    VOLUNTARY = "voluntary", _("任意代理人")
    PARENT = "parent", _("親権者")
    GUARDIAN = "guardian", _("成年後見人")


class GrantState(models.TextChoices):
    INVITED = "invited", _("招待中")
    ACCEPTED = "accepted", _("ご本人の確認待ち")
    ACTIVE = "active", _("有効")
    ENDED = "ended", _("終了")


class EndedBy(models.TextChoices):
    PRINCIPAL = "principal", _("ご本人")
    PROXY = "proxy", _("代理人")
    STAFF = "staff", _("職員")
    EXPIRY = "expiry", _("期限")


class ProxyGrant(models.Model):
    """代理権: who may act for whom, in which scopes, until when; and how it began and ended."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    kind = models.CharField(max_length=10, choices=GrantKind.choices, default=GrantKind.VOLUNTARY)
    principal = models.ForeignKey(Resident, on_delete=models.CASCADE, related_name="proxy_grants_given")
    proxy = models.ForeignKey(
        Resident, null=True, blank=True, on_delete=models.CASCADE, related_name="proxy_grants_held"
    )
    scopes = models.JSONField(default=list)
    state = models.CharField(max_length=10, choices=GrantState.choices, default=GrantState.INVITED)
    invitation_hash = models.CharField(max_length=64, unique=True, null=True, blank=True)
    invitation_expires_at = models.DateTimeField(null=True, blank=True)
    ends_on = models.DateField()
    created_at = models.DateTimeField(auto_now_add=True)
    accepted_at = models.DateTimeField(null=True, blank=True)
    confirmed_at = models.DateTimeField(null=True, blank=True)
    ended_at = models.DateTimeField(null=True, blank=True)
    ended_by = models.CharField(max_length=10, choices=EndedBy.choices, blank=True)
    # The principal's card was revoked: the proxy waits until the principal keeps or ends the grant.
    review_required = models.BooleanField(default=False)
    # The principal's signature that made it active (portal.identity.services.StepUpProof).
    signing_request_id = models.UUIDField(null=True, blank=True)
    act_digest = models.CharField(max_length=64, blank=True)
    signer_serial_hash = models.CharField(max_length=64, blank=True)

    class Meta:
        verbose_name = "代理権"
        verbose_name_plural = "代理権"
        indexes: ClassVar = [
            models.Index(fields=["proxy", "state"], name="proxy_grant_proxy_state"),
            models.Index(fields=["principal", "state"], name="proxy_grant_principal_state"),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.public_id}"


class GuardianState(models.TextChoices):
    SUBMITTED = "submitted", _("職員が確認中")
    APPROVED = "approved", _("承認")
    REJECTED = "rejected", _("不承認")
    WITHDRAWN = "withdrawn", _("登記の抹消により終了")


class GuardianApplication(models.Model):
    """成年後見人の届出: a guardian's court registry certificate (登記事項証明書), reviewed by staff.

    On approval staff link the ward's user folder and the guardian acts with full scope; the grant ends
    when the registration is withdrawn. The certificate is encrypted, bound to this application.
    """

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    guardian = models.ForeignKey(Resident, on_delete=models.CASCADE, related_name="guardian_applications")
    ward_name = models.CharField(max_length=100)
    ward_birth_date = models.DateField()
    registry_number = models.CharField(max_length=40, help_text="登記番号 on the certificate")
    certificate_key_id = models.CharField(max_length=40)
    certificate = models.BinaryField()
    certificate_sha256 = models.CharField(max_length=64)
    state = models.CharField(max_length=10, choices=GuardianState.choices, default=GuardianState.SUBMITTED)
    # Set by staff when they approve: the ward's user folder, found from the certificate.
    ward = models.ForeignKey(
        Resident, null=True, blank=True, on_delete=models.CASCADE, related_name="guardian_registrations"
    )
    grant = models.OneToOneField(ProxyGrant, null=True, blank=True, on_delete=models.SET_NULL)
    decision_note = models.CharField(
        max_length=400, blank=True, help_text="the reason, told to the applicant"
    )
    submitted_at = models.DateTimeField(auto_now_add=True)
    decided_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = "成年後見人の届出"
        verbose_name_plural = "成年後見人の届出"

    def __str__(self) -> str:
        return f"{self.get_state_display()} {self.public_id}"


class InsurerRegistrationState(models.TextChoices):
    REGISTERING = "registering", _("医療保険者に登録しています")
    REGISTERED = "registered", _("医療保険者に登録済み")
    FAILED = "failed", _("医療保険者に登録できませんでした")
    WITHDRAWING = "withdrawing", _("医療保険者の登録を取り消しています")
    WITHDRAWN = "withdrawn", _("医療保険者の登録を取り消しました")


class InsurerRegistration(models.Model):
    """医療保険者への代理人の登録: a grant with the medical scope, as the medical insurer holds it.

    The insurer answers a proxy's request for medical data only under a registration it holds; the portal
    registers one when such a grant becomes active and withdraws it when the grant ends, however it ends.
    The insurer knows the registration by ``public_id`` alone (never the grant's id or a universal key).
    """

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    grant = models.OneToOneField(ProxyGrant, on_delete=models.CASCADE, related_name="insurer_registration")
    agency_id = models.CharField(max_length=64)
    state = models.CharField(
        max_length=12, choices=InsurerRegistrationState.choices, default=InsurerRegistrationState.REGISTERING
    )
    created_at = models.DateTimeField(auto_now_add=True)
    registered_at = models.DateTimeField(null=True, blank=True)
    withdrawal_asked_at = models.DateTimeField(null=True, blank=True)
    withdrawn_at = models.DateTimeField(null=True, blank=True)
    # When what each message tells the insurer was recorded in the access histories (once each).
    registration_logged_at = models.DateTimeField(null=True, blank=True)
    withdrawal_logged_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveIntegerField(default=0)
    last_attempt_at = models.DateTimeField(null=True, blank=True)
    # When the lost-task sweep last sent it again: the next sweep waits a whole stall after it.
    resent_at = models.DateTimeField(null=True, blank=True)
    # Why the last attempt failed: an AgencyError code, or the insurer's own error code.
    last_error = models.CharField(max_length=64, blank=True)

    class Meta:
        verbose_name = "医療保険者への代理人の登録"
        verbose_name_plural = "医療保険者への代理人の登録"
        indexes: ClassVar = [
            # The sweep reads only the few registrations still on their way.
            models.Index(
                fields=["last_attempt_at"],
                name="insurer_registration_pending",
                condition=models.Q(state__in=["registering", "withdrawing"]),
            )
        ]

    def __str__(self) -> str:
        return f"{self.get_state_display()} {self.public_id}"
