"""Reads of the access history."""

from django.db.models import QuerySet

from portal.history.models import ChainHead, ReleaseRecord
from portal.history.services import GENESIS_HASH, Actor, record_digest
from portal.identity.models import Resident


def release_list(*, owner: Resident) -> QuerySet[ReleaseRecord]:
    return ReleaseRecord.objects.filter(owner=owner).order_by("-seq")


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
