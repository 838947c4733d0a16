"""The one door through which every release of personal data passes (SPEC 2.3: log before release).

release_record commits its own transaction (durable) and returns only after the record is stored; a
caller that is inside another transaction gets an error instead of a record that might roll back.
"""

import functools
import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime

from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from portal.history.models import ActorType, AlertPreference, ChainHead, ReleaseAlert, ReleaseRecord
from portal.identity.models import Resident, User
from portal.notify.services import notify_resident_later

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

    @classmethod
    def for_proxy(cls, proxy: Resident) -> "Actor":
        """Someone acting for the owner: the owner reads the proxy's name, as the proxy's own card gave it."""
        return cls(type=ActorType.PROXY, ref=str(proxy.public_id), label=proxy.name)

    @classmethod
    def for_firm(cls, firm_ref: str, legal_name: str) -> "Actor":
        return cls(type=ActorType.FIRM, ref=firm_ref, label=legal_name)


def record_body(
    *,
    owner_public_id: str,
    actor: Actor,
    category: str,
    items: list[str],
    purpose: str,
    legal_basis: str,
    channel: str,
    occurred_at: datetime,
    disclose_from: datetime | None,
) -> str:
    """The canonical text of what a record says, before it is placed in its chain."""
    return json.dumps(
        [
            owner_public_id,
            actor.type,
            actor.ref,
            actor.label,
            category,
            list(items),
            purpose,
            legal_basis,
            channel,
            occurred_at.astimezone(UTC).isoformat(timespec="microseconds"),
            disclose_from.astimezone(UTC).isoformat(timespec="microseconds") if disclose_from else None,
        ],
        ensure_ascii=False,
        separators=(",", ":"),
    )


def chain_digest(body: str, seq: int, prev_hash: str) -> str:
    """SHA-256 of the body, its place and the previous hash. history_append (SQL) computes the same."""
    return hashlib.sha256(f"{body}\n{seq}\n{prev_hash}".encode()).hexdigest()


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
    disclose_from: datetime | None,
    prev_hash: str,
) -> str:
    body = record_body(
        owner_public_id=owner_public_id,
        actor=actor,
        category=category,
        items=items,
        purpose=purpose,
        legal_basis=legal_basis,
        channel=channel,
        occurred_at=occurred_at,
        disclose_from=disclose_from,
    )
    return chain_digest(body, seq, prev_hash)


# Whether a release alerts its owner (SPEC 2.3, issues 3 and 7): staff reads always; a firm's or a proxy's as
# the owner's AlertPreference field says, or as that field's default when they stored none (firms: no,
# proxies: yes); anyone else's never. history_append (PostgreSQL, migration 0009) applies the same rule.
ALERT_ALWAYS = "always"
ALERT_PREFERENCE_FIELDS = {ActorType.FIRM: "on_firm_reads", ActorType.PROXY: "on_proxy_reads"}


def alert_rule(actor_type: str) -> tuple[str | None, bool]:
    """What decides whether a record by this kind of actor alerts (ALERT_ALWAYS, an AlertPreference field,
    or None for never), and the answer when the owner stored no preference."""
    if actor_type == ActorType.STAFF:
        return ALERT_ALWAYS, True
    field = ALERT_PREFERENCE_FIELDS.get(actor_type)
    if field is None:
        return None, False
    return field, AlertPreference._meta.get_field(field).default


def release_record(
    *,
    owner: Resident,
    actor: Actor,
    category: str,
    items: list[str],
    purpose: str,
    channel: str,
    legal_basis: str = "",
    disclose_from: datetime | None = None,
    alert_owner: bool = True,
) -> ReleaseRecord:
    """Commits the record of one release; call it before the data leaves, and release only if it returns.

    `disclose_from` defers what the resident sees (and any alert) to that time, for releases whose legal
    basis allows it; the record itself is made now, like any other. `alert_owner=False` makes no alert
    whatever alert_rule says: for a caller that tells the owner of this very act itself (a proxy's answer
    to a notice is told by a portal notice saying who answered what), so that one act is told once.
    """
    arguments = (owner, actor, category, items, purpose, channel, legal_basis, disclose_from, alert_owner)
    if connection.vendor == "postgresql" and connection.get_autocommit():
        # Outside any transaction one statement is a transaction of its own: history_append's record (and
        # alert) is committed, durably, by the time execute returns. One round trip instead of three
        # (BEGIN, the call, COMMIT), on every page with personal data (bench/README.md, recording cost).
        record, alerted = _append_in_database(*arguments)
        if alerted:
            _alert_notify_later(record)  # committed already, so queued at once
        return record
    for attempt in range(2):
        try:
            # durable: refuses to run inside a caller's transaction, whose rollback would undo the record.
            with transaction.atomic(durable=True):
                append = _append_in_database if connection.vendor == "postgresql" else _append
                record, alerted = append(*arguments)
                if alerted:
                    _alert_notify_later(record)
                return record
        except IntegrityError:
            # Two first releases for one resident raced to create the chain head (ORM path); the loser
            # retries.
            if attempt:
                raise
    raise AssertionError("unreachable")


def _append_in_database(
    owner: Resident,
    actor: Actor,
    category: str,
    items: list[str],
    purpose: str,
    channel: str,
    legal_basis: str,
    disclose_from: datetime | None,
    alert_owner: bool = True,
) -> tuple[ReleaseRecord, bool]:
    """PostgreSQL: one call to history_append (migrations 0007, 0009) locks the head, chains, inserts and
    alerts if the rule says so. Returns the record and whether it alerted.

    One round trip for what the ORM does in three to five queries, and no ORM work: the record is what
    every page with personal data pays before it may render (bench/README.md, recording cost).
    """
    occurred_at = timezone.now()
    body = record_body(
        owner_public_id=str(owner.public_id),
        actor=actor,
        category=category,
        items=items,
        purpose=purpose,
        legal_basis=legal_basis,
        channel=channel,
        occurred_at=occurred_at,
        disclose_from=disclose_from,
    )
    items_json = json.dumps(list(items), ensure_ascii=False)
    rule, unset = alert_rule(actor.type) if alert_owner else (None, False)
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT * FROM history_append(%s, %s, %s, %s, %s, %s, %s::jsonb, %s, %s, %s, %s, %s, %s, %s)",
            [
                owner.pk,
                body,
                actor.type,
                actor.ref,
                actor.label,
                category,
                items_json,
                purpose,
                legal_basis,
                channel,
                occurred_at,
                disclose_from,
                rule,
                unset,
            ],
        )
        record_id, seq, prev_hash, record_hash, alerted = cursor.fetchone()
    fields = {
        "id": record_id,
        "owner_id": owner.pk,
        "seq": seq,
        "actor_type": actor.type,
        "actor_ref": actor.ref,
        "actor_label": actor.label,
        "category": category,
        "items": list(items),
        "purpose": purpose,
        "legal_basis": legal_basis,
        "channel": channel,
        "occurred_at": occurred_at,
        "disclose_from": disclose_from,
        "prev_hash": prev_hash,
        "record_hash": record_hash,
    }
    # As a query would load it (a third of the CPU of ReleaseRecord(**fields)), with its owner attached.
    names = _record_field_names()
    record = ReleaseRecord.from_db(connection.alias, names, [fields[name] for name in names])
    ReleaseRecord._meta.get_field("owner").set_cached_value(record, owner)
    return record, alerted


@functools.cache
def _record_field_names() -> list[str]:
    return [field.attname for field in ReleaseRecord._meta.concrete_fields]


def _append(
    owner: Resident,
    actor: Actor,
    category: str,
    items: list[str],
    purpose: str,
    channel: str,
    legal_basis: str,
    disclose_from: datetime | None,
    alert_owner: bool = True,
) -> tuple[ReleaseRecord, bool]:
    """The ORM's append, for SQLite: the same chain and the same alert as history_append, in the caller's
    transaction. Returns the record and whether it alerted."""
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
        disclose_from=disclose_from,
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
        disclose_from=disclose_from,
        prev_hash=head.head_hash,
        record_hash=digest,
    )
    head.seq = seq
    head.head_hash = digest
    head.save(update_fields=["seq", "head_hash"])
    alerted = alert_owner and _alert_wanted(owner_id=owner.pk, actor_type=actor.type)
    if alerted:
        ReleaseAlert.objects.create(
            resident_id=record.owner_id,
            record_seq=record.seq,
            actor_type=record.actor_type,
            actor_label=record.actor_label,
            category=record.category,
            occurred_at=record.occurred_at,
            visible_from=record.disclose_from or record.occurred_at,
        )
    return record, alerted


def _alert_wanted(*, owner_id: int, actor_type: str) -> bool:
    """alert_rule applied with the ORM (history_append applies it in SQL)."""
    rule, unset = alert_rule(actor_type)
    if rule is None or rule == ALERT_ALWAYS:
        return rule is not None
    stored = AlertPreference.objects.filter(resident_id=owner_id).values_list(rule, flat=True).first()
    return unset if stored is None else stored


def _alert_notify_later(record: ReleaseRecord) -> None:
    """Tell the resident's devices too, once the record and its alert are committed (one broker message
    here); a deferred release is not pushed before its disclosure date."""
    notify_resident_later(
        resident_id=record.owner_id,
        kind="release_alert",
        category="release_alert",
        url="/history/",
        not_before=record.disclose_from,
        dedupe_key=f"release_alert:{record.seq}",
    )


def partitions_ensure_ahead(*, months: int = 3) -> list[str]:
    """Creates the month partitions from this month to `months` ahead (PostgreSQL; a no-op elsewhere).

    Run daily by beat, so a new month's rows never fall into the default partition.
    """
    if connection.vendor != "postgresql":
        return []
    names = []
    with connection.cursor() as cursor:
        for offset in range(months + 1):
            cursor.execute("SELECT history_ensure_month(now() + %s * interval '1 month')", [offset])
            names.append(cursor.fetchone()[0])
    return names
