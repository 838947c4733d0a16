"""Fetching a resident's self-information from the agencies, one category per task, into a short cache.

Each agency knows the resident only by its own code; the My Number never leaves the portal. An answer is
kept only when it is well formed, about that code, within its contract and about this very person (name
and birth date); one about someone else is quarantined and reported to the agency, never shown. Every
step is safe to run twice: a redelivered task finds its work done, or does it again to the same effect.
"""

import json
import logging
from datetime import datetime, timedelta
from functools import lru_cache, partial
from typing import Any

from celery import group
from django.conf import settings
from django.db import connection, transaction
from django.db.models import Case, F, Q, QuerySet, Value, When
from django.utils import timezone

from portal.agencies.breaker import breaker_allow, breaker_failure, breaker_success
from portal.agencies.client import AgencyError, AgencyUnavailable, agency_get, agency_post
from portal.agencies.codes import AgencyInfo, agency_code, agency_registry
from portal.core.categories import MEDICAL
from portal.core.crypto import lookup_hash
from portal.core.lost_tasks import GIVEN_UP, SENT_AGAIN, lost_task_stall
from portal.core.outages import BROKER_UNREACHABLE
from portal.core.rows import Columns, FixedRead
from portal.history.models import Channel
from portal.history.services import Actor, release_record
from portal.identity.models import Resident, SecurityEvent
from portal.myinfo.models import (
    AWAITING_TASK,
    MYINFO_CATEGORIES,
    CategoryEntry,
    EntryState,
    FetchError,
    Quarantine,
)
from portal.myinfo.payload import (
    IDENTITY_ATTRIBUTES,
    SelfInformation,
    answer_digest_text,
    data_validate,
    identity_mismatches,
    parse_self_information,
)

logger = logging.getLogger(__name__)

#: A request older than this whose fetch was lost is given up rather than sent again: the resident may
#: have long gone, and a broker that keeps losing messages must not keep a category "fetching".
FETCH_RESEND_LIMIT = timedelta(hours=1)
#: Sent as the report's reason; the only kind of mis-link report the portal makes.
MISLINK_REASON = "identity_mismatch"
#: The categories of the medical insurer, which answers a proxy only under a registration it holds.
MEDICAL_CATEGORIES = frozenset(c.code for c in MEDICAL)
#: How a request says which registered proxy asked (docs/agency-api.md, registered proxies).
PROXY_REGISTRATION_HEADER = "Proxy-Registration"
#: The insurer's refusals of a proxy's request (403): no such registration, withdrawn, past its last day.
PROXY_REFUSALS = frozenset(
    {"proxy_not_registered", "proxy_registration_withdrawn", "proxy_registration_expired"}
)

# An agency's refusal codes (docs/contracts.md) and the client's error codes, as the resident reads them.
_CLIENT_ERRORS = {
    "content_type": FetchError.CONTENT_TYPE,
    "malformed": FetchError.MALFORMED,
    "oversized": FetchError.OVERSIZED,
    "wrong_subject": FetchError.WRONG_SUBJECT,
}
# Faults staff should look into: the agency answered out of contract, or about someone else.
_SECURITY_RELEVANT = frozenset(
    {FetchError.CONTENT_TYPE, FetchError.MALFORMED, FetchError.OVERSIZED, FetchError.WRONG_SUBJECT}
)


def fetch_stall() -> timedelta:
    """A fetch with no sign of life for this long was lost: the lost-task stall (portal.core.lost_tasks)."""
    return lost_task_stall()


def fetch_stalled(entry: CategoryEntry, *, now: datetime) -> bool:
    """The entry waits for a fetch task that shows no sign of life: its message was lost."""
    last = entry.last_sign_of_life
    return entry.awaiting_task and (last is None or now - last >= fetch_stall())


def agency_for_category(category: str) -> AgencyInfo:
    """The agency that serves a category (demo/agencies.json, ``categories``)."""
    for agency in agency_registry().values():
        if category in agency.categories:
            return agency
    raise LookupError(f"no agency serves {category}")


def _checked_categories(categories: list[str] | tuple[str, ...] | None) -> list[str]:
    if categories is None:
        return list(MYINFO_CATEGORIES)
    unknown = set(categories) - set(MYINFO_CATEGORIES)
    if unknown:
        raise ValueError(f"not self-information categories: {', '.join(sorted(unknown))}")
    return [c for c in MYINFO_CATEGORIES if c in categories]  # the residents' order, once each


@transaction.atomic
def myinfo_refresh_start(
    *,
    resident: Resident,
    categories: list[str] | tuple[str, ...] | None = None,
    proxy_registration: str = "",
) -> list[str]:
    """Marks the categories as being fetched and, once committed, queues one fetch task for each at once.

    A category already being fetched (not :func:`fetch_stalled`) is left to that fetch. Returns the
    categories queued. Called on login and by the page's "refresh". A broker that refuses the tasks
    leaves them failed, "not started" (:func:`_fetches_send`), not spinning.

    ``proxy_registration``: a proxy asked, registered with the medical insurer under this id; the medical
    categories' requests carry it, and the insurer answers only under that registration.
    """
    now = timezone.now()
    wanted = _checked_categories(categories)
    CategoryEntry.objects.bulk_create(
        [CategoryEntry(resident=resident, category=c, agency_id=agency_for_category(c).id) for c in wanted],
        ignore_conflicts=True,
    )
    locked = CategoryEntry.objects.select_for_update().filter(resident=resident, category__in=wanted)
    queued = [
        entry.category
        for entry in locked.defer("payload")  # never decrypted here
        if entry.state != EntryState.FETCHING or fetch_stalled(entry, now=now)
    ]
    queued.sort(key=MYINFO_CATEGORIES.index)
    if queued:
        # One UPDATE for all of them (a login or a refresh queues up to twelve).
        CategoryEntry.objects.filter(resident=resident, category__in=queued).update(
            state=EntryState.FETCHING,
            requested_at=now,
            resent_at=None,
            attempts=0,
            last_error_code="",
            proxy_registration=Case(
                When(category__in=MEDICAL_CATEGORIES, then=Value(proxy_registration)), default=Value("")
            ),
            updated_at=now,
        )
        # robust: whatever else goes wrong while sending must not undo a login.
        transaction.on_commit(
            partial(_fetches_send, resident_id=resident.pk, categories=queued, requested_at=now), robust=True
        )
    return queued


def _fetches_send(*, resident_id: int, categories: list[str], requested_at: datetime) -> None:
    """Sends one fetch task per category at once; when the broker refuses, says so on the entries."""
    from portal.myinfo.tasks import fetch_category  # the task module imports this one

    fetches = group(
        fetch_category.si(resident_id=resident_id, category=c, requested_at=requested_at.isoformat())
        for c in categories
    )
    try:
        fetches.apply_async()
    except BROKER_UNREACHABLE as exc:
        logger.warning("myinfo fetches for resident %s not queued: %r", resident_id, exc)
        # Those no worker began (some of the group may have been sent before the broker went).
        CategoryEntry.objects.filter(
            resident_id=resident_id,
            category__in=categories,
            state=EntryState.FETCHING,
            requested_at=requested_at,
            attempts=0,
        ).update(state=EntryState.FAILED, last_error_code=FetchError.NOT_STARTED, updated_at=timezone.now())


def category_fetch(*, resident_id: int, category: str, requested_at: datetime | None = None) -> str:
    """One fetch of one category; returns the entry's state after it (or ``gone``, ``skipped``).

    :class:`AgencyUnavailable` (also when the agency's breaker is open) is recorded as a failure and
    raised again, so the task retries; every other outcome is final and recorded in the entry.
    """
    _checked_categories([category])
    row = _FETCH_RESIDENT_READ.one([resident_id])
    if row is None:
        return "gone"  # the user folder was closed; its entries went with it
    (resident,) = row
    agency = agency_for_category(category)
    attempt = _attempt_begin(resident=resident, category=category, agency=agency, requested_at=requested_at)
    if attempt is None:
        return "skipped"
    started_at, proxy_registration = attempt
    code = agency_code(my_number=resident.my_number, agency_id=agency.id)
    # A proxy's refresh says which registered proxy asked; the resident's and the portal's say nothing.
    headers = {PROXY_REGISTRATION_HEADER: proxy_registration} if proxy_registration else None
    try:
        body = _agency_call(
            agency_id=agency.id, path=f"residents/{code}/self-information/{category}", headers=headers
        )
        answer = parse_self_information(
            body, agency_id=agency.id, expected_code=code, category=category, now=timezone.now()
        )
        data_validate(category=category, data=answer.data)
    except AgencyUnavailable as exc:
        _attempt_failed(
            resident=resident, category=category, started_at=started_at, error=FetchError.UNAVAILABLE
        )
        logger.info("myinfo %s from %s unavailable: %s", category, agency.id, exc)
        raise
    except AgencyError as exc:
        error = _fetch_error(exc)
        _attempt_failed(resident=resident, category=category, started_at=started_at, error=error)
        if error in _SECURITY_RELEVANT:
            SecurityEvent.objects.create(
                kind=f"myinfo_{error}",
                resident=resident,
                detail={
                    "agency": agency.id,
                    "category": category,
                    "where": getattr(exc, "where", ""),
                    "problem": getattr(exc, "problem", str(exc)),
                },
            )
        logger.warning("myinfo %s from %s refused: %s", category, agency.id, error)
        return EntryState.FAILED
    mismatched = identity_mismatches(subject=answer.subject, resident=resident)
    if mismatched:
        quarantine = _quarantine(resident=resident, answer=answer, mismatched=mismatched)
        try:
            quarantine_report(quarantine=quarantine)
        except AgencyError:
            # The data is safely held back either way; the report is sent again until the agency has it.
            from portal.myinfo.tasks import report_mislink

            report_mislink.apply_async(kwargs={"quarantine_id": quarantine.pk}, countdown=30)
        return EntryState.QUARANTINED
    _store(resident=resident, answer=answer)
    return EntryState.DONE


def _agency_call(*, agency_id: str, path: str, headers: dict[str, str] | None = None) -> dict[str, Any]:
    """agency_get behind the agency's circuit breaker: only unavailability counts against the agency."""
    breaker_allow(agency_id=agency_id)
    try:
        body = agency_get(
            agency_id=agency_id, path=path, max_bytes=settings.MYINFO_MAX_PAYLOAD_BYTES, headers=headers
        )
    except AgencyUnavailable:
        breaker_failure(agency_id=agency_id)
        raise
    except AgencyError:
        breaker_success(agency_id=agency_id)  # it answered: it is up, however wrong the answer
        raise
    breaker_success(agency_id=agency_id)
    return body


def _fetch_error(exc: AgencyError) -> str:
    if exc.status == 403 and exc.agency_error in PROXY_REFUSALS:
        return FetchError.PROXY_REFUSED
    if exc.code == "not_found":
        return FetchError.NOT_SERVED if exc.agency_error == "category_not_served" else FetchError.NOT_FOUND
    return _CLIENT_ERRORS.get(exc.code, FetchError.REFUSED)


def _attempt_begin(
    *, resident: Resident, category: str, agency: AgencyInfo, requested_at: datetime | None
) -> tuple[datetime, str] | None:
    """Records an attempt and returns its start and the registered proxy who asked ("" for none); None
    when a later attempt already ended the request."""
    now = timezone.now()
    # The entry locked, checked and updated (or made) in one statement, which commits by itself.
    ended = (
        " WHERE e.state NOT IN (%s, %s) OR e.last_attempt_at IS NULL OR e.last_attempt_at < %s"
        if requested_at is not None
        else ""
    )
    row = _entry_upsert(
        CategoryEntry(
            resident=resident,
            category=category,
            agency_id=agency.id,
            state=EntryState.FETCHING,
            requested_at=requested_at or now,
            last_attempt_at=now,
            attempts=1,
        ),
        update=("agency_id", "state", "last_attempt_at", "updated_at"),
        also="attempts = e.attempts + 1",
        where=ended,
        params=[
            EntryState.DONE.value,
            EntryState.QUARANTINED.value,
            connection.ops.adapt_datetimefield_value(requested_at),
        ]
        if requested_at is not None
        else [],
        returning="proxy_registration",
    )
    if row is None:
        return None
    return now, row[0]


def _attempt_failed(*, resident: Resident, category: str, started_at: datetime, error: str) -> None:
    # Only the latest attempt speaks for the entry: an older copy's failure must not hide a newer result.
    CategoryEntry.objects.filter(resident=resident, category=category, last_attempt_at=started_at).update(
        state=EntryState.FAILED,
        last_error_code=error,
        consecutive_failures=F("consecutive_failures") + 1,
        updated_at=timezone.now(),
    )


def _store(*, resident: Resident, answer: SelfInformation) -> None:
    """The answer as the entry's data (encrypted by the field), in one statement that commits by itself."""
    now = timezone.now()
    _entry_upsert(
        CategoryEntry(
            resident=resident,
            category=answer.category,
            agency_id=answer.agency_id,
            state=EntryState.DONE,
            payload=json.dumps(answer.data, ensure_ascii=False, separators=(",", ":")),
            as_of=answer.as_of,
            fetched_at=now,
            expires_at=now + timedelta(seconds=settings.MYINFO_CACHE_SECONDS),
        ),
        update=(
            "payload",
            "as_of",
            "fetched_at",
            "expires_at",
            "state",
            "last_error_code",
            "consecutive_failures",
            "updated_at",
        ),
    )


# A fetch runs these on every call, hundreds a second in a full refresh of many residents: fixed SQL written
# once per process (portal/core/rows.py) instead of QuerySets compiled every time (bench/README.md, issue 4).
# The resident's columns a fetch uses, the My Number among them, for the agency's code.
_FETCH_RESIDENT_COLUMNS = Columns(Resident, "r", ("id", "name", "birth_date", "my_number"))
_FETCH_RESIDENT_READ = FixedRead(
    (_FETCH_RESIDENT_COLUMNS,), lambda: f"FROM {_FETCH_RESIDENT_COLUMNS.table} WHERE r.id = %s"
)
_ENTRY_FIELDS = [f for f in CategoryEntry._meta.concrete_fields if not f.primary_key]


@lru_cache(maxsize=8)
def _entry_upsert_sql(update: tuple[str, ...], also: str, where: str, returning: str) -> str:
    quote = connection.ops.quote_name
    column = {f.name: quote(f.column) for f in _ENTRY_FIELDS}
    assignments = [f"{column[name]} = EXCLUDED.{column[name]}" for name in update]
    placeholders = ", ".join(["%s"] * len(_ENTRY_FIELDS))
    return (
        f"INSERT INTO {quote(CategoryEntry._meta.db_table)} AS e "  # noqa: S608 -- names from the model
        f"({', '.join(column[f.name] for f in _ENTRY_FIELDS)}) VALUES ({placeholders}) "
        f"ON CONFLICT ({column['resident']}, {column['category']}) "
        f"DO UPDATE SET {', '.join([*assignments, *([also] if also else [])])}{where} RETURNING {returning}"
    )


def _entry_upsert(
    entry: CategoryEntry,
    *,
    update: tuple[str, ...],
    also: str = "",
    where: str = "",
    params: list[Any] | None = None,
    returning: str = "1",
) -> tuple[Any, ...] | None:
    """INSERT the entry, or on the (resident, category) constraint SET the ``update`` fields to its values
    (and ``also``, SQL on the row as ``e``) where ``where`` holds; the RETURNING row, None when ``where``
    refused. The values are prepared as ``save()`` prepares them (the payload encrypted, ``auto_now``)."""
    sql = _entry_upsert_sql(update, also, where, returning)
    values = [f.get_db_prep_save(f.pre_save(entry, add=True), connection) for f in _ENTRY_FIELDS]
    with connection.cursor() as cursor:
        cursor.execute(sql, [*values, *(params or [])])
        return cursor.fetchone()


@transaction.atomic
def _quarantine(*, resident: Resident, answer: SelfInformation, mismatched: list[str]) -> Quarantine:
    """Holds the answer apart and drops whatever the entry held: the agency's link itself is in doubt."""
    now = timezone.now()
    digest = lookup_hash(answer_digest_text(answer), purpose="myinfo-quarantine")
    envelope = {
        "agency_id": answer.agency_id,
        "agency_code": answer.agency_code,
        "category": answer.category,
        "as_of": answer.as_of.isoformat(),
        "subject": {
            "name": answer.subject.name,
            "name_kana": answer.subject.name_kana,
            "birth_date": answer.subject.birth_date.isoformat(),
        },
        "data": answer.data,
    }
    quarantine, created = Quarantine.objects.get_or_create(
        resident=resident,
        category=answer.category,
        payload_digest=digest,
        defaults={
            "agency_id": answer.agency_id,
            "agency_code": answer.agency_code,
            "mismatched": mismatched,
            "payload": json.dumps(envelope, ensure_ascii=False),
            "as_of": answer.as_of,
            "detected_at": now,
            "last_seen_at": now,
        },
    )
    if not created:
        quarantine.last_seen_at = now
        quarantine.save(update_fields=["last_seen_at"])
    CategoryEntry.objects.filter(resident=resident, category=answer.category).update(
        state=EntryState.QUARANTINED,
        payload=None,
        as_of=None,
        fetched_at=None,
        expires_at=None,
        last_error_code=FetchError.IDENTITY_MISMATCH,
        consecutive_failures=0,
        updated_at=now,
    )
    if created:
        SecurityEvent.objects.create(
            kind="myinfo_identity_mismatch",
            resident=resident,
            detail={
                "agency": answer.agency_id,
                "category": answer.category,
                "mismatched": mismatched,
                "quarantine": str(quarantine.public_id),
            },
        )
    return quarantine


def _report_body(quarantine: Quarantine) -> dict[str, Any]:
    return {
        "category": quarantine.category,
        "reason": MISLINK_REASON,
        # True where the portal observed a difference from the resident's own record.
        "observed": {attribute: attribute in quarantine.mismatched for attribute in IDENTITY_ATTRIBUTES},
        # The moment of detection: the same every time the report is sent again (same Idempotency-Key).
        "reported_at": quarantine.detected_at.isoformat(),
    }


def quarantine_report(*, quarantine: Quarantine) -> str:
    """Tells the agency its record did not match (a mis-link report); returns the agency's report id.

    What the report says about the resident is a release to the agency, so it is recorded in their
    history first (SPEC 2.3), once. Sent with the quarantine's id as Idempotency-Key: sending it again
    after a lost answer makes no second report. Raises :class:`AgencyError` when the agency did not take it.
    """
    if quarantine.report_id:
        return quarantine.report_id
    agency = agency_registry()[quarantine.agency_id]
    if quarantine.report_logged_at is None:
        release_record(
            owner=quarantine.resident,
            actor=Actor.for_agency(agency.id, agency.name_ja),
            category=quarantine.category,
            items=list(IDENTITY_ATTRIBUTES),
            purpose="mislink_report",
            channel=Channel.AGENCY_API,
        )
        quarantine.report_logged_at = timezone.now()
        quarantine.save(update_fields=["report_logged_at"])
    Quarantine.objects.filter(pk=quarantine.pk).update(
        report_attempts=F("report_attempts") + 1, report_tried_at=timezone.now()
    )
    try:
        answer = agency_post(
            agency_id=agency.id,
            path=f"residents/{quarantine.agency_code}/mislink-reports",
            body=_report_body(quarantine),
            idempotency_key=str(quarantine.public_id),
        )
        report_id = answer.get("report_id")
        if not isinstance(report_id, str) or not 0 < len(report_id) <= 64 or not report_id.isprintable():
            raise AgencyError(f"{agency.id}: report answer without a report id", code="malformed")
    except AgencyError as exc:
        Quarantine.objects.filter(pk=quarantine.pk).update(report_error=exc.code)
        logger.warning("mis-link report to %s not taken: %s", agency.id, exc.code)
        raise
    quarantine.report_id = report_id
    quarantine.reported_at = timezone.now()
    quarantine.report_error = ""
    quarantine.save(update_fields=["report_id", "reported_at", "report_error"])
    return report_id


def quarantine_report_send(*, quarantine_id: int) -> str:
    """The mis-link report of a stored quarantine (task and admin action); '' when it is gone."""
    quarantine = Quarantine.objects.select_related("resident").filter(pk=quarantine_id).first()
    if quarantine is None:
        return ""
    return quarantine_report(quarantine=quarantine)


def myinfo_fetch_gave_up(*, resident_id: int, category: str) -> None:
    """Retries ran out (or the task died): the page says the category could not be fetched.

    A final outcome the fetch already recorded (done, quarantined, refused, malformed) is left as it is.
    """
    CategoryEntry.objects.filter(resident_id=resident_id, category=category).filter(
        state__in=(EntryState.FETCHING, EntryState.FAILED),
        last_error_code__in=("", FetchError.UNAVAILABLE),
    ).update(state=EntryState.FAILED, last_error_code=FetchError.GAVE_UP, updated_at=timezone.now())


def myinfo_fetches_owed(*, cutoff: datetime, now: datetime) -> QuerySet[CategoryEntry]:
    """Fetches waiting for their task (queued, running, or a retry due) with no sign of life since
    ``cutoff``: the message was lost (a broker restarted without its data, a publish that never arrived)."""
    quiet = (
        Q(requested_at__lte=cutoff)
        & (Q(resent_at__isnull=True) | Q(resent_at__lte=cutoff))
        & (Q(last_attempt_at__isnull=True) | Q(last_attempt_at__lte=cutoff))
    )
    # The payload is never decrypted here.
    return CategoryEntry.objects.filter(AWAITING_TASK, quiet).defer("payload").order_by("requested_at")


def myinfo_fetch_send_again(entry: CategoryEntry, *, now: datetime) -> str:
    """A lost fetch (locked by the sweep): sent again for the same request, or given up when too old.

    A request younger than :data:`FETCH_RESEND_LIMIT` gets one new task with the same ``requested_at``,
    so that should the old one turn up after all, whichever comes second finds the request ended and
    does nothing; an older one is given up, and the page offers to try again.
    """
    from portal.myinfo.tasks import fetch_category  # the task module imports this one

    if entry.requested_at is not None and entry.requested_at <= now - FETCH_RESEND_LIMIT:
        entry.state = EntryState.FAILED
        entry.last_error_code = FetchError.GAVE_UP
        entry.save(update_fields=["state", "last_error_code", "updated_at"])
        return GIVEN_UP
    entry.resent_at = now
    entry.save(update_fields=["resent_at", "updated_at"])
    fetch_category.apply_async(
        kwargs={
            "resident_id": entry.resident_id,
            "category": entry.category,
            "requested_at": entry.requested_at.isoformat() if entry.requested_at else None,
        }
    )
    return SENT_AGAIN


def myinfo_purge_expired(*, now: datetime) -> int:
    """Drops payloads past their lifetime (SPEC 2.1); returns how many entries were deleted or emptied.

    An entry that only held data is deleted. One that also says something current (a refresh under way
    or failed) keeps that and loses its data.
    """
    expired = CategoryEntry.objects.filter(expires_at__lte=now)
    emptied = expired.exclude(state=EntryState.DONE).update(
        payload=None, as_of=None, fetched_at=None, expires_at=None, updated_at=now
    )
    deleted, _ = expired.filter(state=EntryState.DONE).delete()
    return deleted + emptied
