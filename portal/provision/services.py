"""Fetching a resident's information-provision records from the information provision network.

The network knows the resident only by its own agency code; the My Number never leaves the portal. An
answer is stored only whole and only when it is valid and about that code; storing is an idempotent
upsert by the network's record id, so a redelivered task or a second refresh adds nothing twice.
"""

import logging
from datetime import datetime, timedelta
from functools import partial

from django.core.cache import cache
from django.db import transaction
from django.db.models import Q, QuerySet
from django.utils import timezone

from portal.agencies.client import AgencyError, AgencyUnavailable, agency_get
from portal.agencies.codes import agency_code
from portal.core.lost_tasks import GIVEN_UP, SENT_AGAIN
from portal.core.outages import BROKER_UNREACHABLE
from portal.identity.models import Resident, SecurityEvent
from portal.provision.models import CONTENT_FIELDS, FetchError, ProvisionFetch, ProvisionRecord
from portal.provision.payload import ProvisionEntry, ProvisionPayloadError, parse_provision_records

logger = logging.getLogger(__name__)

#: 情報提供ネットワークシステム in demo/agencies.json.
PROVISION_AGENCY_ID = "info-network"


def provision_records_refresh(*, resident: Resident) -> int:
    """Fetches the resident's records and stores them; returns how many were new to the portal.

    The outcome is kept in :class:`ProvisionFetch` either way. Failures are raised again after that:
    :class:`AgencyUnavailable` may succeed later, any other :class:`AgencyError` will not.
    """
    code = agency_code(my_number=resident.my_number, agency_id=PROVISION_AGENCY_ID)
    attempted_at = timezone.now()
    try:
        body = agency_get(agency_id=PROVISION_AGENCY_ID, path=f"residents/{code}/provision-records")
        answer = parse_provision_records(body, expected_code=code, now=attempted_at)
    except AgencyUnavailable:
        _fetch_failed(resident=resident, attempted_at=attempted_at, error=FetchError.UNAVAILABLE)
        raise
    except ProvisionPayloadError as exc:
        error = FetchError.WRONG_SUBJECT if exc.code == "wrong_subject" else FetchError.MALFORMED
        _fetch_failed(resident=resident, attempted_at=attempted_at, error=error)
        # Staff look into an agency that answers about someone else or out of contract (SPEC 2.6).
        SecurityEvent.objects.create(
            kind=f"provision_{exc.code}",
            resident=resident,
            detail={"agency": PROVISION_AGENCY_ID, "where": exc.where, "problem": exc.problem},
        )
        raise
    except AgencyError:
        _fetch_failed(resident=resident, attempted_at=attempted_at, error=FetchError.REFUSED)
        raise
    return _records_store(resident=resident, entries=answer.records, attempted_at=attempted_at)


@transaction.atomic
def _records_store(*, resident: Resident, entries: tuple[ProvisionEntry, ...], attempted_at: datetime) -> int:
    # The fetch row is the resident's lock: two refreshes at once store one after the other.
    fetch, _ = ProvisionFetch.objects.select_for_update().get_or_create(resident=resident)
    now = timezone.now()
    existing = {r.external_id: r for r in ProvisionRecord.objects.filter(resident=resident)}
    new, changed, unchanged = [], [], []
    for entry in entries:
        values = _values(entry)
        record = existing.get(entry.external_id)
        if record is None:
            new.append(
                ProvisionRecord(resident=resident, external_id=entry.external_id, fetched_at=now, **values)
            )
        elif any(getattr(record, k) != v for k, v in values.items()):
            # The network corrected its record: the portal shows the network's current word.
            for k, v in values.items():
                setattr(record, k, v)
            record.fetched_at = now
            changed.append(record)
        else:
            unchanged.append(record.pk)
    ProvisionRecord.objects.bulk_create(new)
    if changed:
        ProvisionRecord.objects.bulk_update(changed, [*CONTENT_FIELDS, "fetched_at"])
    if unchanged:
        ProvisionRecord.objects.filter(pk__in=unchanged).update(fetched_at=now)
    fetch.last_attempt_at = attempted_at
    fetch.last_success_at = now
    fetch.last_error_code = ""
    update = ["last_attempt_at", "last_success_at", "last_error_code"]
    if fetch.requested_at is not None and fetch.requested_at <= attempted_at:
        fetch.requested_at = None  # this fetch answered the request: nothing owed any more
        update.append("requested_at")
    fetch.save(update_fields=update)
    return len(new)


def _values(entry: ProvisionEntry) -> dict[str, object]:
    return {
        "requester_id": entry.requester.id,
        "requester_name_ja": entry.requester.name_ja,
        "requester_name_en": entry.requester.name_en,
        "provider_id": entry.provider.id,
        "provider_name_ja": entry.provider.name_ja,
        "provider_name_en": entry.provider.name_en,
        "procedure_ja": entry.procedure_ja,
        "procedure_en": entry.procedure_en,
        "legal_basis": entry.legal_basis,
        "items_ja": entry.items_ja,
        "items_en": entry.items_en,
        "status": entry.status,
        "occurred_at": entry.occurred_at,
    }


def _fetch_failed(*, resident: Resident, attempted_at: datetime, error: str) -> None:
    ProvisionFetch.objects.update_or_create(
        resident=resident, defaults={"last_attempt_at": attempted_at, "last_error_code": error}
    )
    if error != FetchError.UNAVAILABLE:
        # A final refusal ends the request (a retry of an unavailable one is still owed).
        provision_request_end(resident_id=resident.pk, upto=attempted_at)


def provision_request_end(*, resident_id: int, upto: datetime) -> None:
    """The requests made up to ``upto`` are answered (or refused for good): nothing is owed for them."""
    ProvisionFetch.objects.filter(resident_id=resident_id, requested_at__lte=upto).update(requested_at=None)


def provision_fetch_gave_up(*, resident_id: int) -> None:
    """Retries ran out: the page now says the records could not be fetched, not that it is still trying.

    A final refusal the fetch already recorded (refused, malformed, wrong subject) is left as it is.
    """
    if not Resident.objects.filter(pk=resident_id).exists():
        return  # the user folder is gone, and its fetch state with it
    fetch, _ = ProvisionFetch.objects.get_or_create(resident_id=resident_id)
    if fetch.last_error_code in ("", FetchError.UNAVAILABLE):
        fetch.last_error_code = FetchError.GAVE_UP
        fetch.last_attempt_at = fetch.last_attempt_at or timezone.now()
        fetch.save(update_fields=["last_error_code", "last_attempt_at"])
    provision_request_end(resident_id=resident_id, upto=timezone.now())


def provision_refresh_schedule(*, resident: Resident) -> None:
    """Queues a refresh once the caller's transaction commits; a copy delivered late does nothing.

    The request is written first, so that a task the broker loses is sent again by the lost-task sweep.
    """
    requested_at = timezone.now()
    ProvisionFetch.objects.update_or_create(
        resident=resident, defaults={"requested_at": requested_at, "resent_at": None}
    )
    transaction.on_commit(
        partial(_refresh_send, resident_id=resident.pk, requested_at=requested_at), robust=True
    )


def _refresh_send(*, resident_id: int, requested_at: datetime) -> None:
    from portal.provision.tasks import refresh_records  # the task module imports this one

    try:
        refresh_records.apply_async(
            kwargs={"resident_id": resident_id, "requested_at": requested_at.isoformat()}
        )
    except BROKER_UNREACHABLE as exc:
        # The request stays written: the lost-task sweep sends it once the broker is back.
        logger.warning("provision refresh for resident %s not queued: %r", resident_id, exc)


#: A refresh asked for longer ago than this whose task was lost is given up, not sent again: the page
#: asks afresh whenever the resident opens it.
REFRESH_RESEND_LIMIT = timedelta(hours=1)


def provision_refreshes_owed(*, cutoff: datetime, now: datetime) -> QuerySet[ProvisionFetch]:
    """Refreshes asked for and not ended, with no sign of life (asked, tried, sent again) since ``cutoff``."""
    return ProvisionFetch.objects.filter(
        Q(last_attempt_at__isnull=True) | Q(last_attempt_at__lte=cutoff),
        Q(resent_at__isnull=True) | Q(resent_at__lte=cutoff),
        requested_at__lte=cutoff,
    ).order_by("requested_at")


def provision_refresh_send_again(fetch: ProvisionFetch, *, now: datetime) -> str:
    """A lost refresh (locked by the sweep): sent again for the same request, or given up when old."""
    from portal.provision.tasks import refresh_records  # the task module imports this one

    requested_at = fetch.requested_at
    assert requested_at is not None  # provision_refreshes_owed reads only requested ones
    if requested_at <= now - REFRESH_RESEND_LIMIT:
        fetch.requested_at = None
        fetch.last_error_code = FetchError.GAVE_UP
        fetch.last_attempt_at = fetch.last_attempt_at or now
        fetch.save(update_fields=["requested_at", "last_error_code", "last_attempt_at"])
        return GIVEN_UP
    fetch.resent_at = now
    fetch.save(update_fields=["resent_at"])
    refresh_records.apply_async(
        kwargs={"resident_id": fetch.resident_id, "requested_at": requested_at.isoformat()}
    )
    return SENT_AGAIN


REFRESH_AFTER = timedelta(hours=1)
REQUEST_SPACING_SECONDS = 60


def provision_refresh_if_stale(*, resident: Resident, now: datetime) -> bool:
    """Queues a refresh when the records are older than an hour (or never came), at most once a minute.

    Called when the resident opens their history: the page shows what is held and says it is updating.
    """
    fetch = ProvisionFetch.objects.filter(resident=resident).first()
    if fetch is not None and fetch.last_success_at and now - fetch.last_success_at < REFRESH_AFTER:
        return False
    if not cache.add(f"provision-refresh:{resident.pk}", 1, timeout=REQUEST_SPACING_SECONDS):
        return False
    provision_refresh_schedule(resident=resident)
    return True
