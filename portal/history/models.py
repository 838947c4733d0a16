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
    prev_hash = models.CharField(max_length=64)
    record_hash = models.CharField(max_length=64)

    class Meta:
        constraints: ClassVar = [models.UniqueConstraint(fields=["owner", "seq"], name="release_owner_seq")]
        indexes: ClassVar = [models.Index(fields=["owner", "-occurred_at"])]

    def __str__(self) -> str:
        return f"#{self.seq} {self.actor_label}: {self.category}"


class ChainHead(models.Model):
    """The end of one resident's chain: locked while a record is appended, so the chain never forks."""

    owner = models.OneToOneField(Resident, on_delete=models.PROTECT, primary_key=True, related_name="+")
    seq = models.PositiveBigIntegerField(default=0)
    head_hash = models.CharField(max_length=64)

    def __str__(self) -> str:
        return f"chain head #{self.seq}"
