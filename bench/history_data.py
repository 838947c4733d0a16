"""Synthetic access histories for the benchmarks: valid hash chains computed in Python and written with COPY.

The hashes come from services.record_digest, the canonical form release_record uses, so the history page
and verify_history see these rows exactly as records the portal made. Bench database only: never run
against a database whose chains matter, since it writes chains without going through release_record.
"""

import json
import random
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from django.db import connection, transaction
from django.utils import timezone

from bench.environment import REPO
from portal.core.crypto import lookup_hash
from portal.history.models import ActorType, ChainHead, Channel, ReleaseRecord
from portal.history.services import GENESIS_HASH, Actor, partitions_ensure_ahead, record_digest
from portal.identity.models import Resident, User
from portal.identity.mynumber import my_number_check_digit

COLUMNS = (
    "owner_id, seq, actor_type, actor_ref, actor_label, category, items, purpose, legal_basis, channel, "
    "occurred_at, disclose_from, prev_hash, record_hash"
)
AGENCIES = json.loads((REPO / "demo" / "agencies.json").read_text())["agencies"]


@dataclass(frozen=True)
class Release:
    """One kind of release the synthetic histories are made of; actor None means the owner themself."""

    weight: int
    actor: Actor | None
    category: str
    items: tuple[str, ...]
    purpose: str
    channel: str
    legal_basis: str = ""
    deferred: bool = False


def _releases() -> list[Release]:
    """What a resident's history holds: mostly their own views, then agencies, firms, a proxy, staff."""
    own = [
        Release(300, None, "identity", ("name", "my_number_last4"), "dashboard", Channel.WEB),
        Release(60, None, "access_history", ("records",), "history_view", Channel.WEB),
        Release(40, None, "income_tax", ("income", "resident_tax"), "myinfo_view", Channel.WEB),
        Release(30, None, "pension", ("contributions",), "myinfo_view", Channel.WEB),
        Release(30, None, "health_insurance", ("status",), "myinfo_view", Channel.WEB),
        Release(20, None, "medical_drugs", ("dispensed",), "myinfo_view", Channel.WEB),
        Release(10, None, "income_tax", ("income", "resident_tax"), "myinfo_export", Channel.EXPORT),
        Release(10, None, "access_history", ("records",), "history_export", Channel.EXPORT),
    ]
    agencies = [
        Release(
            12,
            Actor.for_agency(agency["id"], agency["name_ja"]),
            category,
            ("record",),
            "事務手続の審査",
            Channel.AGENCY_API,
            legal_basis="番号法第19条第8号",
        )
        for agency in AGENCIES
        for category in agency["categories"]
    ]
    firms = [
        Release(
            40,
            Actor.for_firm("firm:sakura", "さくら銀行株式会社"),
            "income_tax",
            ("income",),
            "住宅ローンの審査",
            Channel.FIRM_API,
        ),
        Release(
            20,
            Actor.for_firm("firm:kaede-life", "かえで生命保険株式会社"),
            "medical_expenses",
            ("expenses",),
            "保険金の請求",
            Channel.FIRM_API,
        ),
        Release(
            20,
            Actor.for_firm("firm:hinode", "ひので証券株式会社"),
            "basic_four",
            ("name", "birth_date", "address"),
            "口座開設の本人確認",
            Channel.FIRM_API,
        ),
    ]
    proxy = Actor(ActorType.PROXY, str(uuid.uuid5(uuid.NAMESPACE_URL, "bench-proxy")), "佐藤 恵子")
    staff = Actor(ActorType.STAFF, "staff:1", "サポート担当")
    others = [
        Release(25, proxy, "child_allowance", ("payments",), "myinfo_view", Channel.WEB),
        Release(10, staff, "identity", ("name",), "support", Channel.ADMIN),
        # Deferred disclosure: shown to the resident a year after the release (some still hidden, some not).
        Release(
            1,
            Actor.for_agency("prefectural-police", "デモ県警察本部"),
            "basic_four",
            ("name", "address"),
            "捜査関係事項照会",
            Channel.AGENCY_API,
            legal_basis="刑事訴訟法第197条第2項",
            deferred=True,
        ),
    ]
    return own + agencies + firms + others


RELEASES = _releases()
WEIGHTS = [release.weight for release in RELEASES]


def bench_resident(username: str, rng: random.Random) -> Resident:
    """A resident of the bench's own, found by username so that later runs reuse it."""
    user, _ = User.objects.get_or_create(username=username, defaults={"password": "!"})  # card login only
    resident = Resident.objects.filter(user=user).first()
    if resident is None:
        first_eleven = f"{rng.randrange(10**10, 10**11):011d}"
        number = first_eleven + str(my_number_check_digit(first_eleven))
        resident = Resident.objects.create(
            user=user,
            name="履歴 太郎",
            name_kana="リレキ タロウ",
            birth_date="1980-04-01",
            sex="1",
            address="東京都千代田区霞が関二丁目1番1号",
            my_number=number,
            my_number_hash=lookup_hash(number, purpose="my-number"),
        )
    return resident


def chain_length(owner: Resident) -> int:
    head = ChainHead.objects.filter(owner=owner).first()
    return head.seq if head else 0


def chain_format_current(owner: Resident) -> bool:
    """Whether the owner's first record still hashes as record_digest hashes today. Bench data written
    before a change of the canonical form would fail verification and must be rebuilt, not timed.
    """
    first = ReleaseRecord.objects.filter(owner=owner, seq=1).first()
    if first is None:
        return True
    digest = record_digest(
        owner_public_id=str(owner.public_id),
        seq=first.seq,
        actor=Actor(type=first.actor_type, ref=first.actor_ref, label=first.actor_label),
        category=first.category,
        items=first.items,
        purpose=first.purpose,
        legal_basis=first.legal_basis,
        channel=first.channel,
        occurred_at=first.occurred_at,
        disclose_from=first.disclose_from,
        prev_hash=first.prev_hash,
    )
    return digest == first.record_hash


STALE = "the bench data predate a change of the record format; drop the portal_bench database and rerun"


def partitions_ensure(start: datetime, end: datetime) -> None:
    """A partition for every month from start to end, so no row lands in the default partition."""
    partitions_ensure_ahead()
    month = datetime(start.year, start.month, 1, tzinfo=UTC)
    with connection.cursor() as cursor:
        while month <= end:
            cursor.execute("SELECT history_ensure_month(%s)", [month])
            month = (month + timedelta(days=32)).replace(day=1)


def _chain_rows(
    owner: Resident, count: int, start: datetime, end: datetime, rng: random.Random, heads: dict[int, str]
) -> Iterator[tuple]:
    """Rows seq 1..count in time order between start and end; leaves the last hash in heads[owner.pk]."""
    public_id = str(owner.public_id)
    span_us = int((end - start).total_seconds() * 1_000_000)
    offsets = sorted(rng.sample(range(span_us), count))  # distinct instants: seq grows with time
    kinds = rng.choices(RELEASES, weights=WEIGHTS, k=count)
    prev_hash = GENESIS_HASH
    for seq, (offset, kind) in enumerate(zip(offsets, kinds, strict=True), start=1):
        occurred_at = start + timedelta(microseconds=offset)
        actor = kind.actor or Actor.for_resident(owner)
        disclose_from = occurred_at + timedelta(days=365) if kind.deferred else None
        digest = record_digest(
            owner_public_id=public_id,
            seq=seq,
            actor=actor,
            category=kind.category,
            items=list(kind.items),
            purpose=kind.purpose,
            legal_basis=kind.legal_basis,
            channel=kind.channel,
            occurred_at=occurred_at,
            disclose_from=disclose_from,
            prev_hash=prev_hash,
        )
        yield (
            owner.pk,
            seq,
            actor.type,
            actor.ref,
            actor.label,
            kind.category,
            json.dumps(list(kind.items), ensure_ascii=False),
            kind.purpose,
            kind.legal_basis,
            kind.channel,
            occurred_at,
            disclose_from,
            prev_hash,
            digest,
        )
        prev_hash = digest
    heads[owner.pk] = prev_hash


def chains_write(chains: list[tuple[Resident, int]], *, years: float, rng: random.Random) -> None:
    """Gives each resident (none may have a chain yet) a chain of the given length over the last `years`.

    One transaction for the batch, chain heads included: a resident has a whole chain or none.
    """
    end = timezone.now() - timedelta(minutes=1)
    start = end - timedelta(days=365 * years)
    partitions_ensure(start, end)
    heads: dict[int, str] = {}
    with transaction.atomic(), connection.cursor() as cursor:
        owners = [owner.pk for owner, _ in chains]
        if ChainHead.objects.filter(owner_id__in=owners).exists():
            sys.exit("history_data: a resident already has a chain; refusing to write a second one")
        with cursor.copy(f"COPY history_releaserecord ({COLUMNS}) FROM STDIN") as copy:
            for owner, count in chains:
                for row in _chain_rows(owner, count, start, end, rng, heads):
                    copy.write_row(row)
        ChainHead.objects.bulk_create(
            [ChainHead(owner=owner, seq=count, head_hash=heads[owner.pk]) for owner, count in chains]
        )


def statistics_refresh() -> None:
    """Planner statistics as autovacuum leaves them when rows arrive at the usual pace. Call after writing:
    without them the planner takes the fresh partitions for empty and sorts a whole history instead of
    merging the partitions' indexes (95 ms instead of 20 ms for the history page).
    """
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE history_releaserecord")


def default_partition_rows() -> int:
    """Rows outside every month partition; should stay 0 (the periodic task keeps it empty)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM history_releaserecord_default")
        return cursor.fetchone()[0]


def record_count() -> int:
    return ReleaseRecord.objects.count()
