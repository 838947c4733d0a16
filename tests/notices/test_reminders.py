"""Reminders: a set number of Japanese business days before the deadline, once, only to those who have
not answered."""

import datetime as dt

import pytest
from django.utils import timezone

from notices import notify
from notices.models import Notice, NoticeState
from notices.reminders import business_days_before, is_business_day, notice_reminders_send
from tests.factories import ResidentFactory
from tests.notices.conftest import notice_body, to_resident

pytestmark = pytest.mark.django_db
JST = dt.timezone(dt.timedelta(hours=9))


def test_business_days_skip_weekends_holidays_and_the_year_end():
    assert not is_business_day(dt.date(2026, 8, 11))  # 山の日 (Tuesday)
    assert not is_business_day(dt.date(2026, 8, 8))  # Saturday
    assert not is_business_day(dt.date(2026, 12, 29)) and not is_business_day(dt.date(2027, 1, 3))
    assert is_business_day(dt.date(2026, 8, 12))
    # Friday 14 August: three business days before are 10, 12, 13 August (11th is a holiday).
    assert business_days_before(dt.date(2026, 8, 14), 3) == dt.date(2026, 8, 10)
    # Tuesday 5 January 2027: 4 January, then over the year-end closing and a weekend to 28 December.
    assert business_days_before(dt.date(2027, 1, 5), 2) == dt.date(2026, 12, 28)


@pytest.fixture
def told(monkeypatch) -> list[dict]:
    calls: list[dict] = []

    def notify_resident(*, resident, kind, category, url, dedupe_key=""):
        calls.append({"resident": resident, "kind": kind, "url": url})

    monkeypatch.setattr(notify, "_sender", lambda: (notify_resident, None, True))
    return calls


def _send(api, recipient, deadline: dt.datetime, key: str) -> Notice:
    body = notice_body(recipient, action={"type": "confirm"}, deadline=deadline.isoformat())
    response = api.post_notice(body, key=key)
    assert response.status_code == 201, response.content
    return Notice.objects.get(public_id=response.json()["id"])


def test_reminders_follow_the_business_day_count(api, resident, told, settings):
    settings.NOTICE_REMINDER_BUSINESS_DAYS = 3
    deadline = dt.datetime(2031, 8, 14, 23, 59, tzinfo=JST)
    notice = _send(api, to_resident(resident), deadline, "soon")
    reminder_day = business_days_before(deadline.date(), 3)
    the_day_before = dt.datetime.combine(reminder_day - dt.timedelta(days=1), dt.time(9), tzinfo=JST)
    on_the_day = dt.datetime.combine(reminder_day, dt.time(9), tzinfo=JST)

    assert notice_reminders_send(now=the_day_before) == 0
    assert notice_reminders_send(now=on_the_day) == 1
    assert told == [{"resident": resident, "kind": "reminder", "url": f"/notices/{notice.public_id}/"}]
    assert notice_reminders_send(now=on_the_day + dt.timedelta(days=1)) == 0  # once
    assert NoticeState.objects.get().reminded_at is not None


def test_no_reminder_for_answered_or_closed_notices(api, resident, told):
    deadline = dt.datetime(2031, 8, 14, 23, 59, tzinfo=JST)
    notice = _send(api, to_resident(resident), deadline, "answered")
    NoticeState.objects.create(notice=notice, resident=resident, responded_at=timezone.now())
    assert notice_reminders_send(now=deadline - dt.timedelta(days=1)) == 0
    assert notice_reminders_send(now=deadline + dt.timedelta(minutes=1)) == 0
    assert told == []


def test_broadcast_reminds_matching_residents_who_have_not_answered(api, resident, other_resident, told):
    neighbour = ResidentFactory(address="神奈川県横浜市中区山下町10番地")
    deadline = dt.datetime(2031, 8, 14, 23, 59, tzinfo=JST)
    notice = _send(api, {"type": "segment", "municipality": "神奈川県横浜市中区"}, deadline, "naka")
    NoticeState.objects.create(
        notice=notice, resident=neighbour, responded_at=timezone.now(), read_at=timezone.now()
    )
    assert notice_reminders_send(now=deadline - dt.timedelta(days=1)) == 1
    assert [c["resident"] for c in told] == [resident]
    assert NoticeState.objects.count() == 2  # the neighbour's (answered) and the reminded resident's


def test_reminders_run_hourly_in_the_daytime(settings):
    from celery.schedules import crontab

    from notices.tasks import send_reminders

    (entry,) = [e for e in settings.CELERY_BEAT_SCHEDULE.values() if e["task"] == send_reminders.name]
    assert entry["schedule"] == crontab(hour="9-20", minute=0)  # a lost 09:00 run is made up at 10:00
