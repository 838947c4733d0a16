"""期限のお知らせ: residents who have not answered are reminded a set number of business days before a
notice's deadline, once. Business days as Japanese offices keep them: no weekends, no public holidays
(jpholiday), no year-end closing (29 December to 3 January).

The reminder says only that a deadline is near (portal.notify), never which notice or what it asks.
"""

import datetime as dt
from functools import lru_cache

import jpholiday
from django.db import transaction
from django.db.models import Exists, OuterRef, Q, QuerySet
from django.urls import reverse
from django.utils import timezone

from notices.conf import conf
from notices.models import Action, Audience, Notice, NoticeState
from notices.notify import notifications_together, resident_notify
from notices.selectors import broadcast_residents
from portal.identity.models import Resident

BATCH = 1000


def _year_end_closing(day: dt.date) -> bool:
    return (day.month == 12 and day.day >= 29) or (day.month == 1 and day.day <= 3)


@lru_cache(maxsize=4096)
def is_business_day(day: dt.date) -> bool:
    return day.weekday() < 5 and not jpholiday.is_holiday(day) and not _year_end_closing(day)


def business_days_before(day: dt.date, count: int) -> dt.date:
    """The business day ``count`` business days before ``day`` (``day`` itself not counted)."""
    current, counted = day, 0
    while counted < count:
        current -= dt.timedelta(days=1)
        if is_business_day(current):
            counted += 1
    return current


def _last_deadline_day_due(today: dt.date, count: int) -> dt.date:
    """The latest deadline day whose reminder day is today or earlier (the reminder day only grows)."""
    day = today
    while business_days_before(day + dt.timedelta(days=1), count) <= today:
        day += dt.timedelta(days=1)
    return day


def reminder_notices(*, now: dt.datetime, business_days: int) -> QuerySet[Notice]:
    """Notices asking for an answer, still open, whose reminder day has come."""
    today = timezone.localdate(now)
    last_day = _last_deadline_day_due(today, business_days)
    until = timezone.make_aware(dt.datetime.combine(last_day + dt.timedelta(days=1), dt.time()))
    return Notice.objects.exclude(action=Action.NONE).filter(deadline__gt=now, deadline__lt=until)


def _residents_to_remind(notice: Notice) -> QuerySet[Resident]:
    residents = (
        Resident.objects.filter(pk=notice.recipient_id)
        if notice.audience == Audience.RESIDENT
        else broadcast_residents(notice=notice)
    )
    done = NoticeState.objects.filter(notice=notice, resident=OuterRef("pk")).filter(
        Q(responded_at__isnull=False) | Q(reminded_at__isnull=False)
    )
    return residents.filter(~Exists(done)).order_by("pk")


def notice_reminders_send(*, now: dt.datetime | None = None) -> int:
    """Reminds every resident due a reminder now, once each (marked before told); how many were."""
    now = now or timezone.now()
    reminded = 0
    for notice in reminder_notices(now=now, business_days=conf("NOTICE_REMINDER_BUSINESS_DAYS")):
        url = reverse("notices:detail", args=[notice.public_id])
        while True:
            batch = list(_residents_to_remind(notice)[:BATCH])
            if not batch:
                break
            with transaction.atomic():
                NoticeState.objects.bulk_create(
                    [NoticeState(notice=notice, resident=r, reminded_at=now) for r in batch],
                    update_conflicts=True,
                    unique_fields=["resident", "notice"],
                    update_fields=["reminded_at"],
                )
            with notifications_together():
                for resident in batch:
                    resident_notify(
                        resident=resident,
                        kind="reminder",
                        category=notice.category,
                        url=url,
                        dedupe_key=f"reminder:{notice.public_id}",
                    )
            reminded += len(batch)
    return reminded
