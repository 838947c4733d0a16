"""Release statistics for the oversight body: counts by firm, agency, category and month, nothing personal.

Names appear only for organisations (firms' legal names, agencies); residents and proxies are counted,
never named. Deferred releases are counted by legal basis with their disclosure dates, so the auditor
sees them at once while residents see them from their date.
"""

import datetime as dt

from django.db.models import Count, Max, Min
from django.db.models.functions import TruncMonth
from django.utils import timezone

from portal.core.categories import category_label
from portal.history.models import ActorType, ReleaseRecord

PERIOD_DAYS = 365


def release_statistics(*, language: str, now: dt.datetime | None = None) -> dict:
    now = now or timezone.now()
    since = now - dt.timedelta(days=PERIOD_DAYS)
    recent = ReleaseRecord.objects.filter(occurred_at__gte=since)
    by_actor_type = {
        row["actor_type"]: row["n"] for row in recent.values("actor_type").annotate(n=Count("id"))
    }
    return {
        "since": since,
        "total": sum(by_actor_type.values()),
        "by_actor_type": [(label, by_actor_type.get(value, 0)) for value, label in ActorType.choices],
        "by_firm": _by_label(recent, ActorType.FIRM),
        "by_agency": _by_label(recent, ActorType.AGENCY),
        "by_staff_role": _by_label(recent, ActorType.STAFF),
        "by_category": [
            (category_label(row["category"], language), row["n"])
            for row in recent.values("category").annotate(n=Count("id")).order_by("-n")
        ],
        "by_month": list(
            recent.annotate(month=TruncMonth("occurred_at"))
            .values("month")
            .annotate(n=Count("id"))
            .order_by("month")
            .values_list("month", "n")
        ),
        "deferred": list(
            ReleaseRecord.objects.filter(disclose_from__gt=now)
            .values("legal_basis", "actor_label")
            .annotate(n=Count("id"), first=Min("disclose_from"), last=Max("disclose_from"))
            .order_by("first")
        ),
    }


def _by_label(records, actor_type: str) -> list[tuple[str, int]]:
    rows = (
        records.filter(actor_type=actor_type)
        .values("actor_label")
        .annotate(n=Count("id"))
        .order_by("-n", "actor_label")
    )
    return [(row["actor_label"], row["n"]) for row in rows]
