"""公金受取口座: the one bank account a resident registers for public payments, and everything done to it.

The account row only ever holds an account the bank confirmed is open and in the resident's own name:
what a resident submits waits in an `AccountApplication` until the bank's answer, and a refusal leaves
the account as it was. Account numbers are encrypted; duplicates are found by a keyed hash.
"""

import uuid
from typing import ClassVar

from django.db import models
from django.utils.translation import gettext_lazy as _

from portal.account.banks import AccountType
from portal.core.fields import EncryptedTextField
from portal.identity.models import Resident


class ReviewState(models.TextChoices):
    NONE = "none", _("確認不要")
    FLAGGED = "flagged", _("確認中（他の方と同じ口座）")
    CLEARED = "cleared", _("確認済み")


class PublicFundAccount(models.Model):
    """公金受取口座: verified by the bank, in the resident's own name; agencies may read it unless flagged."""

    resident = models.OneToOneField(Resident, on_delete=models.CASCADE, related_name="public_fund_account")
    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    bank_code = models.CharField(max_length=4)
    branch_code = models.CharField(max_length=3)
    account_type = models.CharField(max_length=10, choices=AccountType.choices)
    number = EncryptedTextField()
    # Keyed hash of bank, branch, type and number: the same account registered by two residents.
    number_hash = models.CharField(max_length=64, db_index=True)
    holder_kana = models.CharField(max_length=60)
    verified_at = models.DateTimeField()
    registered_at = models.DateTimeField()
    updated_at = models.DateTimeField()
    review_state = models.CharField(max_length=10, choices=ReviewState.choices, default=ReviewState.NONE)
    flagged_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = "公金受取口座"
        verbose_name_plural = "公金受取口座"

    def __str__(self) -> str:
        return f"{self.bank_code}-{self.branch_code} {self.number_masked}"

    @property
    def number_masked(self) -> str:
        return mask_number(self.number)

    @property
    def usable(self) -> bool:
        """Agencies may pay into it: verified (always, by construction) and not awaiting staff review."""
        return self.review_state != ReviewState.FLAGGED


def mask_number(number: str) -> str:
    """Only the last three digits, as on a bank's own statements."""
    return "●" * max(len(number) - 3, 0) + number[-3:]


class ApplicationKind(models.TextChoices):
    REGISTER = "register", _("登録")
    CHANGE = "change", _("変更")


class ApplicationState(models.TextChoices):
    CHECKING = "checking", _("金融機関に確認中")
    VERIFIED = "verified", _("確認済み・登録完了")
    REFUSED = "refused", _("登録できませんでした")
    FAILED = "failed", _("確認できませんでした")
    SUPERSEDED = "superseded", _("取り下げ")


class BankResult(models.TextChoices):
    MATCH = "match", _("口座名義が一致")
    NAME_MISMATCH = "name_mismatch", _("口座名義が一致しない")
    NO_ACCOUNT = "no_account", _("口座が見つからない")
    ACCOUNT_CLOSED = "account_closed", _("解約済みの口座")
    UNAVAILABLE = "unavailable", _("金融機関に接続できない")


class AccountApplication(models.Model):
    """A signed request to register or change the account, waiting for the bank's account-name check.

    Once the bank has answered anything but a match, the number is erased: nothing of a refused account
    is kept but its masked form, for the resident to recognise what was refused.
    """

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    resident = models.ForeignKey(Resident, on_delete=models.CASCADE, related_name="account_applications")
    kind = models.CharField(max_length=10, choices=ApplicationKind.choices)
    state = models.CharField(
        max_length=12, choices=ApplicationState.choices, default=ApplicationState.CHECKING
    )
    bank_code = models.CharField(max_length=4)
    branch_code = models.CharField(max_length=3)
    account_type = models.CharField(max_length=10, choices=AccountType.choices)
    number = EncryptedTextField(blank=True, default="")
    number_masked = models.CharField(max_length=10)
    holder_kana = models.CharField(max_length=60)
    bank_result = models.CharField(max_length=16, choices=BankResult.choices, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    # The last try at the bank, and the lost-task sweep's last resend: it sends a check whose task was
    # lost once neither happened for a stall (portal.core.lost_tasks).
    last_attempt_at = models.DateTimeField(null=True, blank=True)
    resent_at = models.DateTimeField(null=True, blank=True)
    # The signature step-up that authorised it (portal.identity.services.StepUpProof).
    signing_request_id = models.UUIDField()
    act_digest = models.CharField(max_length=64)
    signer_serial_hash = models.CharField(max_length=64)
    signed_at = models.DateTimeField()
    created_at = models.DateTimeField(auto_now_add=True)
    decided_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = "口座の登録・変更申請"
        verbose_name_plural = "口座の登録・変更申請"
        indexes: ClassVar = [models.Index(fields=["resident", "-created_at"], name="account_app_resident")]
        constraints: ClassVar = [
            # One application at the bank at a time per resident: a second one supersedes the first.
            models.UniqueConstraint(
                fields=["resident"],
                condition=models.Q(state="checking"),
                name="account_one_checking_application",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.bank_code}-{self.branch_code} {self.number_masked}"


class EventKind(models.TextChoices):
    APPLIED = "applied", _("登録・変更を申請")
    REGISTERED = "registered", _("登録")
    CHANGED = "changed", _("変更")
    DELETED = "deleted", _("削除")
    REFUSED = "refused", _("金融機関の確認で登録できず")
    FAILED = "failed", _("金融機関に確認できず")
    FLAGGED = "flagged", _("他の方と同じ口座のため確認中")
    CLEARED = "cleared", _("職員の確認で利用可能に")
    REMOVED = "removed", _("職員の確認で削除")


class EventActor(models.TextChoices):
    RESIDENT = "resident", _("ご本人")
    BANK = "bank", _("金融機関")
    STAFF = "staff", _("職員")
    PORTAL = "portal", _("マイナポータル")


class AccountEvent(models.Model):
    """口座の変更履歴: each change to a resident's account, who made it, with which signature. Append only."""

    resident = models.ForeignKey(Resident, on_delete=models.CASCADE, related_name="account_events")
    kind = models.CharField(max_length=12, choices=EventKind.choices)
    actor = models.CharField(max_length=10, choices=EventActor.choices)
    actor_ref = models.CharField(max_length=100, blank=True)
    # Bank, branch, type and the masked number: enough to recognise the account, never the number.
    details = models.JSONField(default=dict)
    signing_request_id = models.UUIDField(null=True, blank=True)
    act_digest = models.CharField(max_length=64, blank=True)
    signer_serial_hash = models.CharField(max_length=64, blank=True)
    signed_at = models.DateTimeField(null=True, blank=True)
    at = models.DateTimeField()

    class Meta:
        verbose_name = "口座の変更履歴"
        verbose_name_plural = "口座の変更履歴"
        indexes: ClassVar = [models.Index(fields=["resident", "-at"], name="account_event_resident")]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.at:%Y-%m-%d %H:%M}"
