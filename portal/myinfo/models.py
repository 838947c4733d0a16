"""わたしの情報: the self-information agencies hold about a resident, cached here briefly, encrypted.

The portal is a window, not a store (SPEC 2.1): an entry holds the last answer of one agency for one
category until it expires, and is then purged. A payload whose identity attributes do not match the
resident is never put in an entry; it is kept apart, encrypted, as a quarantine for staff (SPEC 2.6).
"""

import uuid
from datetime import datetime
from typing import ClassVar

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from portal.core.categories import MEDICAL, SELF_INFORMATION
from portal.core.fields import EncryptedTextField
from portal.identity.models import Resident, User

#: Every category fetched from an agency, in the order residents see them. Stored as plain codes (no
#: field choices): a label changed in portal.core.categories must not need a migration.
MYINFO_CATEGORIES = tuple(c.code for c in (*SELF_INFORMATION, *MEDICAL))


class EntryState(models.TextChoices):
    FETCHING = "fetching", _("取得中")
    DONE = "done", _("取得済み")
    FAILED = "failed", _("取得できませんでした")
    QUARANTINED = "quarantined", _("ご本人の情報と確認できませんでした")


class FetchError(models.TextChoices):
    """Why the last fetch of a category did not give data. Stable codes: pages and tests rely on them."""

    UNAVAILABLE = "unavailable", _("機関に接続できませんでした（再試行中）")
    GAVE_UP = "gave_up", _("機関に接続できませんでした")
    NOT_STARTED = "not_started", _("取得を始められませんでした。しばらくしてからもう一度お試しください")
    NOT_SERVED = "not_served", _("この機関からは提供されていません")
    NOT_FOUND = "not_found", _("機関にご本人の記録がありませんでした")
    REFUSED = "refused", _("機関が要求を受け付けませんでした")
    CONTENT_TYPE = "content_type", _("機関の応答の形式が正しくありませんでした")
    MALFORMED = "malformed", _("受け取った情報の形式が正しくありませんでした")
    OVERSIZED = "oversized", _("受け取った情報が大きすぎました")
    WRONG_SUBJECT = "wrong_subject", _("受け取った情報が別の方への応答でした")
    IDENTITY_MISMATCH = "identity_mismatch", _("ご本人の情報と確認できませんでした")
    PROXY_REFUSED = "proxy_refused", _("医療保険者が代理人からの要求を受け付けませんでした")


#: Entries a fetch task should still come for: queued or running, or failed for now with a retry due.
AWAITING_TASK = models.Q(state=EntryState.FETCHING) | models.Q(
    state=EntryState.FAILED, last_error_code=FetchError.UNAVAILABLE
)


class CategoryEntry(models.Model):
    """One category of a resident's information as one agency last gave it, and how its fetch went."""

    resident = models.ForeignKey(Resident, on_delete=models.CASCADE, related_name="myinfo_entries")
    category = models.CharField(max_length=40)
    agency_id = models.CharField(max_length=64)
    state = models.CharField(max_length=12, choices=EntryState.choices, default=EntryState.FETCHING)
    # The category's `data` object as JSON text, encrypted; None while nothing valid is held.
    payload = EncryptedTextField(null=True, blank=True)
    # The agency's "as of" of the payload held.
    as_of = models.DateTimeField(null=True, blank=True)
    # When the payload held was received, and until when it may be shown (then it is purged).
    fetched_at = models.DateTimeField(null=True, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    # When the latest refresh was asked for; a task queued before a later success has nothing to do.
    requested_at = models.DateTimeField(null=True, blank=True)
    # The medical insurer's id of the registered proxy who asked for the latest refresh, sent with every
    # attempt of it (retries and the sweep's too); empty when the resident or the portal itself asked.
    proxy_registration = models.CharField(max_length=64, blank=True)
    # When the sweep last sent again a fetch of that request that the broker had lost; None: never.
    resent_at = models.DateTimeField(null=True, blank=True)
    last_attempt_at = models.DateTimeField(null=True, blank=True)
    # Empty while the last attempt gave data (or none ended yet).
    last_error_code = models.CharField(max_length=20, choices=FetchError.choices, blank=True)
    # Calls to the agency since the latest refresh was asked for (retries and redeliveries count).
    attempts = models.PositiveIntegerField(default=0)
    # Failed attempts since the last success.
    consecutive_failures = models.PositiveIntegerField(default=0)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name_plural = "category entries"
        constraints: ClassVar = [
            models.UniqueConstraint(fields=["resident", "category"], name="myinfo_entry_resident_category")
        ]
        indexes: ClassVar = [
            models.Index(fields=["expires_at"], name="myinfo_entry_expires"),
            # The sweep for lost fetches reads only the few entries waiting for a task.
            models.Index(
                fields=["requested_at"],
                name="myinfo_entry_awaiting_task",
                condition=AWAITING_TASK,
            ),
        ]

    def __str__(self) -> str:
        return f"{self.category} ({self.state})"

    @property
    def awaiting_task(self) -> bool:
        """A fetch task should come for this entry: one is queued or running, or a retry is due."""
        return self.state == EntryState.FETCHING or (
            self.state == EntryState.FAILED and self.last_error_code == FetchError.UNAVAILABLE
        )

    @property
    def last_sign_of_life(self) -> datetime | None:
        """The latest moment a fetch of this entry was asked for, sent again, or began an attempt."""
        return max((t for t in (self.requested_at, self.resent_at, self.last_attempt_at) if t), default=None)


class ReviewState(models.TextChoices):
    PENDING = "pending", _("未確認")
    CONFIRMED = "confirmed", _("誤登録を確認（機関の訂正待ち）")
    RESOLVED = "resolved", _("解決済み")


class Quarantine(models.Model):
    """隔離: an agency's record whose name or birth date did not match the resident.

    Never shown to the resident (they read that it could not be confirmed and the agency was told); the
    agency gets a mis-link report; staff may open the record itself only through the admin's recorded view.
    """

    # Also the Idempotency-Key of the mis-link report: one quarantine, one report, however often sent.
    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    resident = models.ForeignKey(Resident, on_delete=models.CASCADE, related_name="myinfo_quarantines")
    category = models.CharField(max_length=40)
    agency_id = models.CharField(max_length=64)
    # The agency's own code for the resident, to cite when talking to the agency (not the My Number).
    agency_code = models.CharField(max_length=64)
    # Which identity attributes differed: a list of "name", "birth_date".
    mismatched = models.JSONField(default=list)
    # The whole answer as received (JSON text), encrypted.
    payload = EncryptedTextField()
    # Keyed hash of the answer without its "as of": the same record fetched again is the same quarantine.
    payload_digest = models.CharField(max_length=64)
    as_of = models.DateTimeField()
    detected_at = models.DateTimeField(default=timezone.now)
    last_seen_at = models.DateTimeField(default=timezone.now)
    report_id = models.CharField(max_length=64, blank=True)
    reported_at = models.DateTimeField(null=True, blank=True)
    report_attempts = models.PositiveIntegerField(default=0)
    # When the report was last tried or sent again: the lost-task sweep waits a stall after it.
    report_tried_at = models.DateTimeField(null=True, blank=True)
    # Why the last report attempt failed (an AgencyError code); empty once reported.
    report_error = models.CharField(max_length=20, blank=True)
    # When the release of the report to the agency was recorded in the resident's history.
    report_logged_at = models.DateTimeField(null=True, blank=True)
    review_state = models.CharField(max_length=10, choices=ReviewState.choices, default=ReviewState.PENDING)
    review_note = models.TextField(blank=True)
    reviewed_by = models.ForeignKey(User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    reviewed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints: ClassVar = [
            models.UniqueConstraint(
                fields=["resident", "category", "payload_digest"], name="myinfo_quarantine_same_record"
            )
        ]
        indexes: ClassVar = [
            models.Index(fields=["review_state", "-detected_at"], name="myinfo_quarantine_review")
        ]

    def __str__(self) -> str:
        return f"{self.category} from {self.agency_id} ({self.detected_at:%Y-%m-%d})"

    @property
    def reported(self) -> bool:
        return bool(self.report_id)
