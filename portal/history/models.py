"""アクセス記録: every release of a resident's personal data, append-only and hash-chained per resident.

Rows are only ever inserted (on PostgreSQL a trigger refuses UPDATE and DELETE). Each row's hash covers
its content and the previous row's hash in the same resident's chain, so an edited, deleted, inserted
or reordered row breaks the chain.
"""

from typing import ClassVar

from django.db import models
from django.utils.translation import gettext_lazy as _

from portal.identity.models import Resident


class ActorType(models.TextChoices):
    RESIDENT = "resident", _("ご本人")
    PROXY = "proxy", _("代理人")
    FIRM = "firm", _("民間事業者")
    AGENCY = "agency", _("行政機関")
    STAFF = "staff", _("ポータル職員")


class Channel(models.TextChoices):
    WEB = "web", _("ウェブ画面")
    EXPORT = "export", _("ダウンロード")
    FIRM_API = "firm_api", _("民間事業者API")
    AGENCY_API = "agency_api", _("行政機関API")
    ADMIN = "admin", _("管理画面")
    NOTIFICATION = "notification", _("通知")


class ReleaseRecord(models.Model):
    owner = models.ForeignKey(Resident, on_delete=models.PROTECT, related_name="release_records")
    seq = models.PositiveBigIntegerField()
    actor_type = models.CharField(max_length=10, choices=ActorType.choices)
    actor_ref = models.CharField(max_length=100)
    actor_label = models.CharField(max_length=200)
    category = models.CharField(max_length=50)
    items = models.JSONField(default=list)
    purpose = models.CharField(max_length=200)
    legal_basis = models.CharField(max_length=200, blank=True)
    channel = models.CharField(max_length=20, choices=Channel.choices)
    occurred_at = models.DateTimeField()
    # Deferred disclosure: a release under a legal basis that allows it (a criminal investigation, say)
    # is recorded at once but shown to the resident only from this time; auditors see it at once.
    disclose_from = models.DateTimeField(null=True, blank=True)
    prev_hash = models.CharField(max_length=64)
    record_hash = models.CharField(max_length=64)

    class Meta:
        # On PostgreSQL the table is partitioned by month (migration 0003): the real primary key is
        # (id, occurred_at) and (owner, seq) is indexed, not unique, there; the chain head serialises seq.
        constraints: ClassVar = [models.UniqueConstraint(fields=["owner", "seq"], name="release_owner_seq")]
        indexes: ClassVar = [models.Index(fields=["owner", "-occurred_at"])]
        permissions: ClassVar = [("view_release_statistics", "Can view release statistics (auditor)")]

    def __str__(self) -> str:
        return f"#{self.seq} {self.actor_label}: {self.category}"


class ChainHead(models.Model):
    """The end of one resident's chain: locked while a record is appended, so the chain never forks."""

    owner = models.OneToOneField(Resident, on_delete=models.PROTECT, primary_key=True, related_name="+")
    seq = models.PositiveBigIntegerField(default=0)
    head_hash = models.CharField(max_length=64)

    def __str__(self) -> str:
        return f"chain head #{self.seq}"


class DailyRoot(models.Model):
    """The signed root of every chain as it stood at the end of one day, published for anyone to keep.

    A copy kept outside the portal lets anyone prove later that no chain was rewritten after that day,
    even by someone able to recompute every hash in the database.
    """

    day = models.DateField(unique=True)
    chain_count = models.PositiveIntegerField()
    record_count = models.PositiveBigIntegerField()
    root_hash = models.CharField(max_length=64)
    key_id = models.CharField(max_length=64)
    signature = models.TextField()
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"root of {self.day}: {self.root_hash[:12]}"


class AlertPreference(models.Model):
    """Whom the resident wants to hear about: reads by firms and proxies on request; staff reads always."""

    resident = models.OneToOneField(Resident, on_delete=models.CASCADE, primary_key=True, related_name="+")
    on_firm_reads = models.BooleanField(default=False)
    # A proxy acts in the resident's name: told by default (issue 7), unless the resident turns it off.
    on_proxy_reads = models.BooleanField(default=True)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"alert preference of {self.resident_id}"


class ReleaseAlert(models.Model):
    """One "someone read your data" message, made in the same transaction as the record it is about."""

    resident = models.ForeignKey(Resident, on_delete=models.CASCADE, related_name="release_alerts")
    record_seq = models.PositiveBigIntegerField()
    actor_type = models.CharField(max_length=10, choices=ActorType.choices)
    actor_label = models.CharField(max_length=200)
    category = models.CharField(max_length=50)
    occurred_at = models.DateTimeField()
    # A deferred release alerts nobody before its disclosure date: the alert would disclose it.
    visible_from = models.DateTimeField()
    read_at = models.DateTimeField(null=True, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes: ClassVar = [models.Index(fields=["resident", "visible_from"])]

    def __str__(self) -> str:
        return f"alert #{self.record_seq} for {self.resident_id}"
