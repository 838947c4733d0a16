"""Reads of the access history."""

import datetime as dt

from django.db.models import Q, QuerySet
from django.utils import timezone

from portal.history.filters import HistoryFilter
from portal.history.models import ChainHead, ReleaseRecord
from portal.history.services import GENESIS_HASH, Actor, record_digest
from portal.identity.models import Resident


def release_list(*, owner: Resident) -> QuerySet[ReleaseRecord]:
    """Every record of one resident, deferred ones included: for auditors and verification, not residents."""
    return ReleaseRecord.objects.filter(owner=owner).order_by("-seq")


def _day_start(day: dt.date) -> dt.datetime:
    return timezone.make_aware(dt.datetime.combine(day, dt.time.min))


def resident_release_list(
    *, owner: Resident, history_filter: HistoryFilter | None = None, now: dt.datetime | None = None
) -> QuerySet[ReleaseRecord]:
    """What the resident may see of their history, newest first: deferred records only from their date."""
    now = now or timezone.now()
    records = ReleaseRecord.objects.filter(owner=owner).filter(
        Q(disclose_from__isnull=True) | Q(disclose_from__lte=now)
    )
    f = history_filter or HistoryFilter()
    if f.date_from:
        records = records.filter(occurred_at__gte=_day_start(f.date_from))
    if f.date_to:
        records = records.filter(occurred_at__lt=_day_start(f.date_to + dt.timedelta(days=1)))
    if f.actor_type:
        records = records.filter(actor_type=f.actor_type)
    if f.category:
        records = records.filter(category=f.category)
    # seq grows with time in each chain, so "newest first" is "-seq", served by the (owner, seq) index.
    return records.order_by("-seq")


def chain_first_broken_seq(*, owner: Resident) -> int | None:
    """Walks one resident's chain in order; returns the first position that does not verify, or None.

    Catches edited rows (hash mismatch), deleted or inserted rows (gaps or a prev_hash that does not
    link), reordering (the same), and a truncated tail (the head remembers the last hash).
    """
    expected_prev = GENESIS_HASH
    expected_seq = 1
    rows = ReleaseRecord.objects.filter(owner=owner).order_by("seq", "id").iterator(chunk_size=2000)
    for row in rows:
        actor = Actor(type=row.actor_type, ref=row.actor_ref, label=row.actor_label)
        digest = record_digest(
            owner_public_id=str(owner.public_id),
            seq=row.seq,
            actor=actor,
            category=row.category,
            items=row.items,
            purpose=row.purpose,
            legal_basis=row.legal_basis,
            channel=row.channel,
            occurred_at=row.occurred_at,
            disclose_from=row.disclose_from,
            prev_hash=row.prev_hash,
        )
        if row.seq != expected_seq or row.prev_hash != expected_prev or row.record_hash != digest:
            return expected_seq
        expected_prev = row.record_hash
        expected_seq += 1
    head = ChainHead.objects.filter(owner=owner).first()
    if head is not None and (head.seq != expected_seq - 1 or head.head_hash != expected_prev):
        return expected_seq
    return None
