"""Checks every resident's chain in one pass over the table, for verify_history and auditors.

The same rules as selectors.chain_first_broken_seq, for millions of rows: plain tuples from one streamed
query (a server-side cursor on PostgreSQL), no model instances, a consistent snapshot. Read-only.
"""

import itertools
import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime

from django.db import connection, transaction
from django.db.models import Func, QuerySet, TextField
from django.db.models.functions import Cast

from portal.history.models import ChainHead, ReleaseRecord
from portal.history.services import GENESIS_HASH, chain_digest
from portal.identity.models import Resident

CHUNK_ROWS = 5000
# The columns services.record_body covers, in its order (seq too), then the stored hashes. items comes
# as its JSON text and the times as record_body's UTC text: for a million rows, parsing and formatting
# them in Python would be most of the work.
_ROW_FIELDS = (
    "owner_id",
    "seq",
    "actor_type",
    "actor_ref",
    "actor_label",
    "category",
    "items_json",
    "purpose",
    "legal_basis",
    "channel",
    "occurred_text",
    "disclose_text",
    "prev_hash",
    "record_hash",
)
# record_body's canonical JSON, with its encoder made once instead of once a row.
_CANONICAL = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))


class _UtcText(Func):
    """A time as record_body writes it (isoformat in UTC, to the microsecond), made by PostgreSQL."""

    template = "to_char(%(expressions)s AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"+00:00\"')"
    output_field = TextField()


def _utc_text(moment: datetime | None) -> str | None:
    return moment.astimezone(UTC).isoformat(timespec="microseconds") if moment else None


def _row_stream(rows: QuerySet[ReleaseRecord]) -> Iterator[tuple]:
    rows = rows.annotate(items_json=Cast("items", output_field=TextField()))
    if connection.vendor == "postgresql":
        rows = rows.annotate(occurred_text=_UtcText("occurred_at"), disclose_text=_UtcText("disclose_from"))
        return rows.values_list(*_ROW_FIELDS).iterator(chunk_size=CHUNK_ROWS)
    # Elsewhere (SQLite in the demo) Python makes the same text.
    fields = [*_ROW_FIELDS[:10], "occurred_at", "disclose_from", *_ROW_FIELDS[12:]]
    return (
        (*row[:10], _utc_text(row[10]), _utc_text(row[11]), *row[12:])
        for row in rows.values_list(*fields).iterator(chunk_size=CHUNK_ROWS)
    )


@dataclass(frozen=True)
class BrokenChain:
    owner_public_id: str
    first_broken_seq: int


@dataclass
class ChainsReport:
    chains: int = 0
    records: int = 0


@contextmanager
def snapshot() -> Iterator[None]:
    """One transaction that sees the whole history as of one moment (REPEATABLE READ on PostgreSQL).

    Records and chain heads are read by two cursors; without one snapshot, a release committed between
    them would look like a broken chain.
    """
    outermost = not connection.in_atomic_block
    with transaction.atomic():
        # Inside a caller's transaction (a test's, say) the caller's snapshot is the one there is.
        if outermost and connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
        yield


def chains_verify(
    *, owner: Resident | None = None, report: ChainsReport | None = None
) -> Iterator[BrokenChain]:
    """Yields each broken chain (all residents, or one), in resident order. Call it inside snapshot().

    A chain is broken at the first seq whose row is missing, extra, moved or edited, or, when every row
    verifies, at the seq after the last if the chain head does not remember that last row (a cut tail).
    A chain head with no rows left is broken at 1.
    """
    report = report if report is not None else ChainsReport()
    rows = ReleaseRecord.objects.order_by("owner_id", "seq", "id")  # id: duplicates in a stable order
    heads = ChainHead.objects.order_by("owner_id")
    if owner is not None:
        rows = rows.filter(owner=owner)
        heads = heads.filter(owner=owner)
    row_stream = _row_stream(rows)
    head_stream = heads.values_list("owner_id", "owner__public_id", "seq", "head_hash").iterator(
        chunk_size=CHUNK_ROWS
    )
    pending_head = next(head_stream, None)

    def heads_before(owner_id: int | None) -> Iterator[tuple]:
        """The heads of owners before owner_id (all remaining when None) that have no rows at all."""
        nonlocal pending_head
        while pending_head is not None and (owner_id is None or pending_head[0] < owner_id):
            yield pending_head
            pending_head = next(head_stream, None)

    for owner_id, chain in itertools.groupby(row_stream, key=lambda row: row[0]):
        for _, public_id, seq, _hash in heads_before(owner_id):
            report.chains += 1
            if seq != 0:
                yield BrokenChain(str(public_id), 1)
        head = None
        if pending_head is not None and pending_head[0] == owner_id:
            head = pending_head
            pending_head = next(head_stream, None)
        public_id = str(head[1]) if head else _public_id(owner_id)
        report.chains += 1
        first_broken, next_seq, last_hash = _walk(public_id, chain, report)
        if first_broken is None and (head is None or head[2] != next_seq - 1 or head[3] != last_hash):
            first_broken = next_seq  # the head is missing or remembers a longer chain: the tail was cut
        if first_broken is not None:
            yield BrokenChain(public_id, first_broken)
    for _, public_id, seq, _hash in heads_before(None):
        report.chains += 1
        if seq != 0:
            yield BrokenChain(str(public_id), 1)


_ITEMS_SEEN: dict[str, list] = {}


def _items(items_json: str) -> list:
    """A record's items from their JSON text; the same few lists recur, so each is parsed once."""
    items = _ITEMS_SEEN.get(items_json)
    if items is None:
        if len(_ITEMS_SEEN) > 10_000:
            _ITEMS_SEEN.clear()
        items = _ITEMS_SEEN[items_json] = json.loads(items_json)
    return items


def row_digest(public_id: str, row: tuple) -> str:
    """services.record_digest of one row of _ROW_FIELDS: record_body's text, built with less overhead.

    The body must stay exactly services.record_body's (tests compare the two); the chain part is shared.
    """
    body = _CANONICAL.encode(
        [
            public_id,
            row[2],
            row[3],
            row[4],
            row[5],
            _items(row[6]),
            row[7],
            row[8],
            row[9],
            row[10],
            row[11],
        ]
    )
    return chain_digest(body, row[1], row[12])


def _public_id(owner_id: int) -> str:
    return str(Resident.objects.values_list("public_id", flat=True).get(pk=owner_id))


def _walk(public_id: str, rows: Iterator[tuple], report: ChainsReport) -> tuple[int | None, int, str]:
    """Walks one chain's rows in seq order.

    Returns the first bad seq (or None), the seq after the last good row and that row's hash.
    """
    expected_prev = GENESIS_HASH
    expected_seq = 1
    broken = None
    for row in rows:
        report.records += 1
        if broken is not None:
            continue  # the rest of this chain is read past
        seq, prev, digest = row[1], row[12], row[13]
        if seq != expected_seq or prev != expected_prev:
            broken = expected_seq
            continue
        computed = row_digest(public_id, row)
        if computed != digest:
            broken = expected_seq
            continue
        expected_prev = digest
        expected_seq += 1
    return broken, expected_seq, expected_prev
