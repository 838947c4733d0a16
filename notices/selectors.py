"""Reads of the notice inbox: which notices a resident may see, their states, counts for agencies.

A resident sees the notices addressed to them and every broadcast whose segment they match, decided at
query time (a broadcast is one row). Every look-up of one notice goes through :func:`notice_visible`, so
a notice id guessed from another inbox is simply not found.
"""

import logging
import uuid
from contextlib import suppress
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from django.core.cache import cache
from django.db.models import Count, F, FilteredRelation, Q, QuerySet
from django.utils import timezone

from notices.conf import conf
from notices.models import (
    Action,
    AgencyClient,
    Audience,
    Notice,
    NoticeResponse,
    NoticeState,
    ResidentAgencyCode,
)
from portal.core.crypto import lookup_hash
from portal.core.outages import SHARED_CACHE_UNREACHABLE
from portal.identity.models import Resident

logger = logging.getLogger(__name__)

MUNICIPALITY_MAX = 100
BROADCAST_VERSION_KEY = "notices:broadcast-version"


def agency_code_hash(*, agency_id: str, code: str) -> str:
    return lookup_hash(code, purpose=f"agency-code:{agency_id}")


def resident_by_agency_code(*, agency_id: str, code: str) -> Resident | None:
    row = (
        ResidentAgencyCode.objects.filter(
            agency_id=agency_id, code_hash=agency_code_hash(agency_id=agency_id, code=code)
        )
        .select_related("resident")
        .first()
    )
    return row.resident if row is not None else None


def _segment_q(*, address: str, birth_date: date) -> Q:
    prefixes = [address[:n] for n in range(2, min(len(address), MUNICIPALITY_MAX) + 1)]
    return (
        Q(audience=Audience.BROADCAST)
        & (Q(segment_municipality="") | Q(segment_municipality__in=prefixes))
        & (Q(segment_born_from__isnull=True) | Q(segment_born_from__lte=birth_date))
        & (Q(segment_born_to__isnull=True) | Q(segment_born_to__gte=birth_date))
    )


def notice_visible_q(*, resident: Resident) -> Q:
    """Addressed to the resident, or a broadcast whose segment the resident is in."""
    return Q(recipient=resident) | _segment_q(address=resident.address, birth_date=resident.birth_date)


def _with_state(queryset: QuerySet[Notice], resident: Resident) -> QuerySet[Notice]:
    return queryset.annotate(
        mine=FilteredRelation("states", condition=Q(states__resident=resident)),
        read_at=F("mine__read_at"),
        archived_at=F("mine__archived_at"),
        responded_at=F("mine__responded_at"),
    )


def notice_visible(*, resident: Resident) -> QuerySet[Notice]:
    """Every notice the resident may see, each with ``read_at``, ``archived_at`` and ``responded_at``."""
    return _with_state(Notice.objects.filter(notice_visible_q(resident=resident)), resident)


def notice_get(*, resident: Resident, public_id: Any) -> Notice | None:
    """One notice of the resident's inbox, or None (also for a malformed id or another's notice)."""
    try:
        key = uuid.UUID(str(public_id))
    except ValueError:
        return None
    return notice_visible(resident=resident).filter(public_id=key).first()


def _action_needed_q(now: datetime) -> Q:
    return (
        ~Q(action=Action.NONE)
        & Q(responded_at__isnull=True)
        & (Q(deadline__isnull=True) | Q(deadline__gt=now))
    )


@dataclass(frozen=True)
class InboxFilter:
    unread: bool = False
    action_needed: bool = False
    archived: bool = False
    category: str = ""
    query: str = ""


def _search_q(query: str) -> Q:
    # icontains: on PostgreSQL a trigram index on UPPER(title) serves it (migration 0002); pg_trgm
    # handles Japanese, which has no word boundaries for full-text search to split on.
    return Q(title_ja__icontains=query) | Q(title_en__icontains=query) | Q(body_ja__icontains=query)


def notice_list(
    *,
    resident: Resident,
    filters: InboxFilter | None = None,
    before: tuple[datetime, int] | None = None,
    limit: int | None = None,
    now: datetime | None = None,
) -> list[Notice]:
    """A page of the inbox, newest first, each notice with its state and ``action_needed``.

    ``before`` is the (sent_at, id) of the last notice of the previous page (keyset paging).
    """
    filters = filters or InboxFilter()
    now = now or timezone.now()
    limit = limit or conf("NOTICE_PAGE_SIZE")
    queryset = notice_visible(resident=resident).defer("body_en", "form_schema", "prefill", "request_digest")
    queryset = queryset.filter(archived_at__isnull=not filters.archived)
    if filters.unread:
        queryset = queryset.filter(read_at__isnull=True)
    if filters.action_needed:
        queryset = queryset.filter(_action_needed_q(now))
    if filters.category:
        queryset = queryset.filter(category=filters.category)
    if filters.query:
        queryset = queryset.filter(_search_q(filters.query))
    if before is not None:
        sent_at, pk = before
        queryset = queryset.filter(Q(sent_at__lt=sent_at) | Q(sent_at=sent_at, pk__lt=pk))
    notices = list(queryset.order_by("-sent_at", "-pk")[:limit])
    for notice in notices:
        notice.action_needed = (
            notice.action != Action.NONE
            and notice.responded_at is None
            and (notice.deadline is None or notice.deadline > now)
        )
    return notices


def _unread_key(resident_id: int) -> str:
    return f"notices:unread:{resident_id}"


def notice_unread_count(*, resident: Resident) -> int:
    """Unread, unarchived notices: one count query, then reused until something changes it.

    Every page's header shows it, so a cached count is one round trip: the count is kept with the
    broadcast version it was counted under, and both are read in one MGET; a new broadcast changes the
    version and so outdates every resident's count at once. Counted afresh on every page while the shared
    cache is unreachable: the header must not break a page.
    """
    key = _unread_key(resident.pk)
    try:
        found = cache.get_many([BROADCAST_VERSION_KEY, key])
    except SHARED_CACHE_UNREACHABLE:
        return _unread_counted(resident)
    version, kept = found.get(BROADCAST_VERSION_KEY), found.get(key)
    if version is not None and isinstance(kept, tuple) and kept[0] == version:
        return kept[1]
    with suppress(*SHARED_CACHE_UNREACHABLE):
        if version is None:  # made before counting, so a broadcast meanwhile outdates this count
            cache.add(BROADCAST_VERSION_KEY, uuid.uuid4().hex, timeout=None)
            version = cache.get(BROADCAST_VERSION_KEY)
    count = _unread_counted(resident)
    if version is not None:
        with suppress(*SHARED_CACHE_UNREACHABLE):
            cache.set(key, (version, count), timeout=conf("NOTICE_UNREAD_CACHE_SECONDS"))
    return count


def _unread_counted(resident: Resident) -> int:
    return notice_visible(resident=resident).filter(read_at__isnull=True, archived_at__isnull=True).count()


def unread_count_forget(*, resident_id: int | None = None) -> None:
    """After a change: one resident's count, or (a new broadcast) every resident's at once.

    While the cache is unreachable there is nothing to forget now; a count it kept through a restart is
    wrong for at most ``NOTICE_UNREAD_CACHE_SECONDS``.
    """
    try:
        if resident_id is None:
            cache.set(BROADCAST_VERSION_KEY, uuid.uuid4().hex, timeout=None)
        else:
            cache.delete(_unread_key(resident_id))
    except SHARED_CACHE_UNREACHABLE:
        logger.warning("unread count not forgotten: the shared cache is unreachable")


def notice_state(*, resident: Resident, notice: Notice) -> NoticeState | None:
    return NoticeState.objects.filter(resident=resident, notice=notice).first()


def notice_response_of(*, resident: Resident, notice: Notice) -> NoticeResponse | None:
    """The resident's answer, with the proxy who gave it, if one did."""
    return (
        NoticeResponse.objects.filter(resident=resident, notice=notice)
        .select_related("proxy")
        .defer("proxy__my_number")
        .first()
    )


# --- the agency's side --------------------------------------------------------------------------------


def notice_for_client(*, client: AgencyClient, public_id: Any) -> Notice | None:
    """A notice of the client's own agency, or None: agencies see only what they sent."""
    try:
        key = uuid.UUID(str(public_id))
    except ValueError:
        return None
    return Notice.objects.filter(agency_id=client.agency_id, public_id=key).first()


def broadcast_residents(*, notice: Notice) -> QuerySet[Resident]:
    """The residents a broadcast reaches now (the same rule as the inbox, from the residents' side)."""
    queryset = Resident.objects.all()
    if notice.segment_municipality:
        queryset = queryset.filter(address__startswith=notice.segment_municipality)
    if notice.segment_born_from is not None:
        queryset = queryset.filter(birth_date__gte=notice.segment_born_from)
    if notice.segment_born_to is not None:
        queryset = queryset.filter(birth_date__lte=notice.segment_born_to)
    return queryset


@dataclass(frozen=True)
class DeliveryCounts:
    delivered: int
    read: int
    responded: int


def notice_delivery_counts(*, notice: Notice) -> DeliveryCounts:
    """Delivered (the inboxes it is in), read and answered; for a broadcast read from the state rows."""
    states = NoticeState.objects.filter(notice=notice).aggregate(
        read=Count("pk", filter=Q(read_at__isnull=False)),
        responded=Count("pk", filter=Q(responded_at__isnull=False)),
    )
    delivered = 1 if notice.audience == Audience.RESIDENT else broadcast_residents(notice=notice).count()
    return DeliveryCounts(delivered=delivered, read=states["read"], responded=states["responded"])


def notice_responses_page(*, notice: Notice, after: str | None, limit: int) -> list[NoticeResponse]:
    """Answers oldest first; ``after`` is the id of the last answer of the previous page."""
    queryset = NoticeResponse.objects.filter(notice=notice).select_related(
        "resident", "notice", "proxy", "proxy_grant"
    )
    if after:
        try:
            last = queryset.filter(public_id=uuid.UUID(after)).values("submitted_at", "pk").first()
        except ValueError:
            last = None
        if last is None:
            return []
        queryset = queryset.filter(
            Q(submitted_at__gt=last["submitted_at"]) | Q(submitted_at=last["submitted_at"], pk__gt=last["pk"])
        )
    return list(queryset.order_by("submitted_at", "pk")[:limit])
