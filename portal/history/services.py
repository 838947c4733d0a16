"""The one door through which every release of personal data passes (SPEC 2.3: log before release).

release_record commits its own transaction (durable) and returns only after the record is stored; a
caller that is inside another transaction gets an error instead of a record that might roll back.
"""

import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime

from django.db import IntegrityError, transaction
from django.utils import timezone

from portal.history.models import ActorType, ChainHead, ReleaseRecord
from portal.identity.models import Resident, User

GENESIS_HASH = "0" * 64


@dataclass(frozen=True)
class Actor:
    """Who receives the data: kind, a stable reference, and the name residents will read."""

    type: str
    ref: str
    label: str

    @classmethod
    def for_resident(cls, resident: Resident) -> "Actor":
        return cls(type=ActorType.RESIDENT, ref=str(resident.public_id), label="")

    @classmethod
    def for_staff(cls, user: User, role: str) -> "Actor":
        return cls(type=ActorType.STAFF, ref=f"staff:{user.pk}", label=role)

    @classmethod
    def for_agency(cls, agency_id: str, name: str) -> "Actor":
        return cls(type=ActorType.AGENCY, ref=agency_id, label=name)


def record_digest(
    *,
    owner_public_id: str,
    seq: int,
    actor: Actor,
    category: str,
    items: list[str],
    purpose: str,
    legal_basis: str,
    channel: str,
    occurred_at: datetime,
    prev_hash: str,
) -> str:
    canonical = json.dumps(
        [
            owner_public_id,
            seq,
            actor.type,
            actor.ref,
            actor.label,
            category,
            list(items),
            purpose,
            legal_basis,
            channel,
            occurred_at.astimezone(UTC).isoformat(timespec="microseconds"),
            prev_hash,
        ],
        ensure_ascii=False,
        separators=(",", ":"),
    )
    return hashlib.sha256(canonical.encode()).hexdigest()


def release_record(
    *,
    owner: Resident,
    actor: Actor,
    category: str,
    items: list[str],
    purpose: str,
    channel: str,
    legal_basis: str = "",
) -> ReleaseRecord:
    """Commits the record of one release; call it before the data leaves, and release only if it returns."""
    for attempt in range(2):
        try:
            with transaction.atomic(durable=True):
                return _append(owner, actor, category, items, purpose, channel, legal_basis)
        except IntegrityError:
            # Two first releases for one resident raced to create the chain head; the loser retries.
            if attempt:
                raise
    raise AssertionError("unreachable")


def _append(
    owner: Resident,
    actor: Actor,
    category: str,
    items: list[str],
    purpose: str,
    channel: str,
    legal_basis: str,
) -> ReleaseRecord:
    head = ChainHead.objects.select_for_update().filter(owner=owner).first()
    if head is None:
        head = ChainHead.objects.create(owner=owner, seq=0, head_hash=GENESIS_HASH)
    occurred_at = timezone.now()
    seq = head.seq + 1
    digest = record_digest(
        owner_public_id=str(owner.public_id),
        seq=seq,
        actor=actor,
        category=category,
        items=items,
        purpose=purpose,
        legal_basis=legal_basis,
        channel=channel,
        occurred_at=occurred_at,
        prev_hash=head.head_hash,
    )
    record = ReleaseRecord.objects.create(
        owner=owner,
        seq=seq,
        actor_type=actor.type,
        actor_ref=actor.ref,
        actor_label=actor.label,
        category=category,
        items=list(items),
        purpose=purpose,
        legal_basis=legal_basis,
        channel=channel,
        occurred_at=occurred_at,
        prev_hash=head.head_hash,
        record_hash=digest,
    )
    head.seq = seq
    head.head_hash = digest
    head.save(update_fields=["seq", "head_hash"])
    return record
