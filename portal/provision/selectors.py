"""Reads of the information-provision records and of how their last fetch went."""

import datetime as dt

from django.db.models import QuerySet
from django.utils import timezone

from portal.identity.models import Resident
from portal.provision.models import ProvisionFetch, ProvisionRecord


def _day_start(day: dt.date) -> dt.datetime:
    # Days are the residents' days: Asia/Tokyo (settings.TIME_ZONE), whatever language the page is in.
    return timezone.make_aware(dt.datetime.combine(day, dt.time.min), timezone.get_default_timezone())


def provision_list(
    *, resident: Resident, date_from: dt.date | None = None, date_to: dt.date | None = None
) -> QuerySet[ProvisionRecord]:
    """The resident's records, newest first; ``date_from`` and ``date_to`` are inclusive days."""
    records = ProvisionRecord.objects.filter(resident=resident)
    if date_from:
        records = records.filter(occurred_at__gte=_day_start(date_from))
    if date_to:
        records = records.filter(occurred_at__lt=_day_start(date_to + dt.timedelta(days=1)))
    return records.order_by("-occurred_at", "-external_id")


def provision_fetch_get(*, resident: Resident) -> ProvisionFetch | None:
    """How the last fetch went ("as of", "could not be fetched"); None before the first attempt."""
    return ProvisionFetch.objects.filter(resident=resident).first()


def provision_fetched_since(*, resident_id: int, since: dt.datetime) -> bool:
    """Whether a fetch succeeded at or after ``since``: a task queued before it has nothing left to do."""
    return ProvisionFetch.objects.filter(resident_id=resident_id, last_success_at__gte=since).exists()
