"""Reads of "my information" for the pages: what each category's card says, and a category's data.

Neither records anything: a page that shows data from :func:`myinfo_payload` records the release in the
access history first (portal.history.services.release_record), and shows the data only after that.
"""

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db.models import BooleanField, ExpressionWrapper, Q
from django.utils import timezone

from portal.core.categories import MEDICAL, SELF_INFORMATION, Category
from portal.core.rows import Columns, FixedRead
from portal.identity.models import Resident
from portal.myinfo.models import CategoryEntry, EntryState, FetchError
from portal.myinfo.services import agency_for_category, fetch_stalled

_MEDICAL = frozenset(c.code for c in MEDICAL)


class CardState:
    """What a category's card says. ``stale``: nothing current (expired, purged, never fetched) or only
    older data because the latest refresh failed; ``has_data`` and ``error_code`` tell which."""

    FETCHING = "fetching"
    DONE = "done"
    STALE = "stale"
    FAILED = "failed"
    QUARANTINED = "quarantined"


@dataclass(frozen=True)
class CategoryStatus:
    category: str
    label_ja: str
    label_en: str
    #: ``self_information`` (自己情報) or ``medical`` (医療保険の情報), as SPEC 5 groups them.
    group: str
    agency_id: str
    agency_name_ja: str
    agency_name_en: str
    state: str
    #: Whether :func:`myinfo_payload` gives data for the category now.
    has_data: bool
    as_of: datetime | None
    fetched_at: datetime | None
    expires_at: datetime | None
    #: A :class:`portal.myinfo.models.FetchError` value, or "" when there is nothing to explain.
    error_code: str

    def label(self, language: str) -> str:
        return self.label_en if language == "en" else self.label_ja

    def agency_name(self, language: str) -> str:
        return self.agency_name_en if language == "en" else self.agency_name_ja

    @property
    def error_text(self) -> str:
        """Why the latest fetch gave no data, in the active language ("" when there is nothing to say)."""
        return str(FetchError(self.error_code).label) if self.error_code in FetchError.values else ""


def _card_state(entry: CategoryEntry | None, has_data: bool, now: datetime) -> tuple[str, str]:
    if entry is None:
        return CardState.STALE, ""
    if entry.state == EntryState.QUARANTINED:
        return CardState.QUARANTINED, FetchError.IDENTITY_MISMATCH
    if entry.state == EntryState.FETCHING:
        if fetch_stalled(entry, now=now):
            # The fetch was lost: say so rather than spin (the beat's sweep or a refresh sends it again).
            return (CardState.STALE if has_data else CardState.FAILED), FetchError.GAVE_UP
        return CardState.FETCHING, ""
    if entry.state == EntryState.FAILED:
        return (CardState.STALE if has_data else CardState.FAILED), entry.last_error_code
    return (CardState.DONE if has_data else CardState.STALE), ""


def myinfo_overview(*, resident: Resident, now: datetime, for_proxy: bool = False) -> list[CategoryStatus]:
    """Every category, in the residents' order, with its card's state; one query, nothing decrypted.

    ``for_proxy``: as a proxy sees it. Where the insurer refused the proxy's latest request, the proxy is
    shown that refusal, not the copy the resident fetched earlier (which the resident still sees).
    """
    entries = {
        e.category: e
        for e in CategoryEntry.objects.filter(resident=resident)
        .defer("payload")
        .annotate(
            has_payload=ExpressionWrapper(
                Q(payload__isnull=False) & Q(expires_at__gt=now), output_field=BooleanField()
            )
        )
    }
    statuses = []
    category: Category
    for category in (*SELF_INFORMATION, *MEDICAL):
        entry = entries.get(category.code)
        has_data = bool(entry is not None and entry.has_payload and entry.state != EntryState.QUARANTINED)
        if for_proxy and has_data and entry.last_error_code == FetchError.PROXY_REFUSED:
            has_data = False
        state, error_code = _card_state(entry, has_data, now)
        agency = agency_for_category(category.code)
        statuses.append(
            CategoryStatus(
                category=category.code,
                label_ja=category.label_ja,
                label_en=category.label_en,
                group="medical" if category.code in _MEDICAL else "self_information",
                agency_id=agency.id,
                agency_name_ja=agency.name_ja,
                agency_name_en=agency.name_en,
                state=state,
                has_data=has_data,
                as_of=entry.as_of if has_data else None,
                fetched_at=entry.fetched_at if has_data else None,
                expires_at=entry.expires_at if has_data else None,
                error_code=error_code,
            )
        )
    return statuses


def myinfo_payload(
    *, resident: Resident, category: str, now: datetime | None = None
) -> dict[str, Any] | None:
    """The category's data (the agency's ``data`` object) while it is held and unexpired; else None.

    Never a quarantined record's: those are not kept in entries at all.
    """
    now = now or timezone.now()
    entry = (
        CategoryEntry.objects.filter(
            resident=resident, category=category, payload__isnull=False, expires_at__gt=now
        )
        .exclude(state=EntryState.QUARANTINED)
        .only("payload")
        .first()
    )
    return json.loads(entry.payload) if entry is not None else None


@dataclass(frozen=True)
class HeldInformation:
    """A category as the cache holds it, for a release outside the pages (the consent API)."""

    state: str
    data: dict[str, Any] | None
    as_of: datetime | None
    agency_id: str


# Read on every resource API call (the consent API): fixed SQL, the columns used (portal/core/rows.py).
_HELD_COLUMNS = Columns(CategoryEntry, "e", ("id", "state", "payload", "as_of", "expires_at", "agency_id"))
_HELD_READ = FixedRead(
    (_HELD_COLUMNS,), lambda: f"FROM {_HELD_COLUMNS.table} WHERE e.resident_id = %s AND e.category = %s"
)


def myinfo_held(*, resident: Resident, category: str, now: datetime | None = None) -> HeldInformation | None:
    """The entry's state and, while held and unexpired (never quarantined), its data; None if never asked."""
    now = now or timezone.now()
    row = _HELD_READ.one([resident.pk, category])
    if row is None:
        return None
    (entry,) = row
    usable = entry.payload is not None and entry.expires_at and entry.expires_at > now
    held = usable and entry.state != EntryState.QUARANTINED
    return HeldInformation(
        state=entry.state,
        data=json.loads(entry.payload) if held else None,
        as_of=entry.as_of if held else None,
        agency_id=entry.agency_id,
    )
