"""情報提供等記録: the agencies' own log of what they asked each other about a resident, and when.

These are the agencies' records, fetched from the information provision network; the portal's own
records of what it released are the access history (portal.history). The text of each record is agency
data cached in the portal, so it is stored encrypted (SPEC 2.5); this module must never hold a record
that another agency code's answer carried.
"""

from typing import ClassVar

from django.db import models
from django.utils.translation import gettext_lazy as _

from portal.core.fields import EncryptedTextField
from portal.identity.models import Resident


class ProvisionStatus(models.TextChoices):
    PROVIDED = "provided", _("提供済み")
    NO_RECORD = "no_record", _("該当なし")


class ProvisionRecord(models.Model):
    """情報提供等記録: one exchange between two agencies about the resident, as the network logged it."""

    resident = models.ForeignKey(Resident, on_delete=models.CASCADE, related_name="provision_records")
    # The network's id of the exchange: the same exchange always comes back with the same id.
    external_id = models.CharField(max_length=64)
    requester_id = EncryptedTextField()
    requester_name_ja = EncryptedTextField()
    requester_name_en = EncryptedTextField()
    provider_id = EncryptedTextField()
    provider_name_ja = EncryptedTextField()
    provider_name_en = EncryptedTextField()
    procedure_ja = EncryptedTextField()
    procedure_en = EncryptedTextField()
    legal_basis = EncryptedTextField()
    items_ja = EncryptedTextField()
    items_en = EncryptedTextField()
    status = models.CharField(max_length=10, choices=ProvisionStatus.choices)
    occurred_at = models.DateTimeField()
    # When the portal last received this record from the network.
    fetched_at = models.DateTimeField()

    class Meta:
        constraints: ClassVar = [
            models.UniqueConstraint(fields=["resident", "external_id"], name="provision_resident_external_id")
        ]
        indexes: ClassVar = [
            models.Index(fields=["resident", "-occurred_at"], name="provision_resident_time")
        ]

    def __str__(self) -> str:
        return f"{self.external_id} ({self.occurred_at:%Y-%m-%d})"


#: What the network says about an exchange, besides whose it is and its id: what a refresh may correct.
CONTENT_FIELDS = (
    "occurred_at",
    "requester_id",
    "requester_name_ja",
    "requester_name_en",
    "provider_id",
    "provider_name_ja",
    "provider_name_en",
    "procedure_ja",
    "procedure_en",
    "legal_basis",
    "items_ja",
    "items_en",
    "status",
)


class FetchError(models.TextChoices):
    UNAVAILABLE = "unavailable", _("情報提供ネットワークシステムに接続できませんでした（再試行中）")
    GAVE_UP = "gave_up", _("情報提供ネットワークシステムに接続できませんでした")
    REFUSED = "refused", _("情報提供ネットワークシステムが要求を受け付けませんでした")
    MALFORMED = "malformed", _("受け取った記録の形式が正しくありませんでした")
    WRONG_SUBJECT = "wrong_subject", _("受け取った記録がご本人のものではありませんでした")


class ProvisionFetch(models.Model):
    """How the last fetches of a resident's records went, so the page can say "as of" or "could not fetch"."""

    resident = models.OneToOneField(Resident, on_delete=models.CASCADE, related_name="provision_fetch")
    last_attempt_at = models.DateTimeField(null=True, blank=True)
    last_success_at = models.DateTimeField(null=True, blank=True)
    # A refresh asked for (by the history page) and not yet ended, and when the lost-task sweep last sent it
    # again: the sweep sends a refresh whose task was lost (portal.core.lost_tasks).
    requested_at = models.DateTimeField(null=True, blank=True)
    resent_at = models.DateTimeField(null=True, blank=True)
    # Empty when the last attempt succeeded.
    last_error_code = models.CharField(max_length=20, choices=FetchError.choices, blank=True)

    class Meta:
        indexes: ClassVar = [
            # The lost-task sweep reads, every minute, only the refreshes still owed.
            models.Index(
                fields=["requested_at"],
                name="provision_fetch_requested",
                condition=models.Q(requested_at__isnull=False),
            )
        ]

    def __str__(self) -> str:
        return f"{self.resident} ({self.last_error_code or 'ok'})"

    @property
    def failed(self) -> bool:
        return bool(self.last_error_code)
