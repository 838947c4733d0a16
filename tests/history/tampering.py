"""Helpers for history tests: records made at a chosen time, and the edits an attacker with superuser
rights could make (triggers off, as in test_chain.py), including rewriting a whole chain with valid hashes."""

import datetime as dt
from unittest import mock

from django.db import connection

from portal.history.models import ActorType, ChainHead, ReleaseRecord
from portal.history.services import GENESIS_HASH, Actor, record_digest, release_record

AGENCY = Actor(type=ActorType.AGENCY, ref="municipal-resident", label="デモ市 市民課")


def release(resident, *, purpose: str = "test", at: dt.datetime | None = None, **fields) -> ReleaseRecord:
    """One release through the real door; `at` pretends the clock said so (for days already over)."""
    values = {
        "owner": resident,
        "actor": AGENCY,
        "category": "household",
        "items": ["members"],
        "purpose": purpose,
        "channel": "agency_api",
        **fields,
    }
    if at is None:
        return release_record(**values)
    with mock.patch("django.utils.timezone.now", return_value=at):
        return release_record(**values)


def bypassing_the_trigger(sql: str, params: list) -> None:
    with connection.cursor() as cursor:
        cursor.execute("SET session_replication_role = replica")
        try:
            cursor.execute(sql, params)
        finally:
            cursor.execute("SET session_replication_role = DEFAULT")


def rewrite_chain(resident) -> None:
    """Recomputes every hash of a chain and its head, as a thorough attacker would after an edit."""
    prev = GENESIS_HASH
    for row in ReleaseRecord.objects.filter(owner=resident).order_by("seq"):
        digest = record_digest(
            owner_public_id=str(resident.public_id),
            seq=row.seq,
            actor=Actor(type=row.actor_type, ref=row.actor_ref, label=row.actor_label),
            category=row.category,
            items=row.items,
            purpose=row.purpose,
            legal_basis=row.legal_basis,
            channel=row.channel,
            occurred_at=row.occurred_at,
            disclose_from=row.disclose_from,
            prev_hash=prev,
        )
        bypassing_the_trigger(
            "UPDATE history_releaserecord SET prev_hash = %s, record_hash = %s WHERE id = %s",
            [prev, digest, row.pk],
        )
        prev = digest
    ChainHead.objects.filter(owner=resident).update(head_hash=prev)
