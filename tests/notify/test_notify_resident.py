"""Who is told what, and when: preferences per category and channel, quiet hours, deferred alerts, and
the access history's alerts going out through notify_resident."""

import datetime as dt

import pytest
from django.utils import timezone

from portal.core.lost_tasks import lost_tasks_recover
from portal.history.models import AlertPreference, ReleaseAlert
from portal.history.services import Actor, release_record
from portal.notify import services
from portal.notify.models import Channel, Delivery, DeliveryStatus, NotificationPreference
from portal.notify.quiet_hours import JST, quiet_until
from tests.notify.test_push_delivery import NOTICE_PAYLOAD, subscribe

pytestmark = pytest.mark.django_db

BANK = Actor.for_firm("firm:sakura", "さくら銀行株式会社")


def released() -> int:
    """The beat's lost-task sweep, now: how many held deliveries it queued because they fell due."""
    return lost_tasks_recover(now=timezone.now(), kinds=["notify.delivery"])["notify.delivery"].get(
        "released", 0
    )


def _preference(resident, **values) -> NotificationPreference:
    preference, _ = NotificationPreference.objects.update_or_create(resident=resident, defaults=values)
    return preference


def _verified_email(resident, address="resident@example.jp", **values):
    return _preference(resident, email=address, email_verified_at=timezone.now(), **values)


def _quiet_around_now() -> tuple[dt.time, dt.time]:
    """Quiet hours from an hour ago to an hour from now (Asia/Tokyo), whatever the time of day."""
    now = timezone.now().astimezone(JST)
    return (now - dt.timedelta(hours=1)).time().replace(second=0, microsecond=0), (
        now + dt.timedelta(hours=1)
    ).time().replace(second=0, microsecond=0)


# --- quiet hours --------------------------------------------------------------------------------------------


def _jst(hour: int, minute: int = 0, day: int = 10) -> dt.datetime:
    return dt.datetime(2026, 8, day, hour, minute, tzinfo=JST)


@pytest.mark.parametrize(
    ("at", "expected"),
    [
        (_jst(23, 30), _jst(7, 0, day=11)),  # after the start, before midnight: tomorrow morning
        (_jst(3, 0), _jst(7, 0)),  # after midnight: this morning
        (_jst(7, 0), None),  # the end itself is outside
        (_jst(12, 0), None),
        (_jst(22, 0), _jst(7, 0, day=11)),
    ],
)
def test_quiet_hours_may_span_midnight(at, expected):
    assert quiet_until(at=at, start=dt.time(22), end=dt.time(7)) == expected


def test_quiet_hours_within_a_day_and_none():
    assert quiet_until(at=_jst(12, 30), start=dt.time(12), end=dt.time(13)) == _jst(13)
    assert quiet_until(at=_jst(14), start=dt.time(12), end=dt.time(13)) is None
    assert quiet_until(at=_jst(12, 30), start=None, end=None) is None
    # A UTC time is read as the wall clock in Tokyo: 14:30 UTC is 23:30 JST.
    assert quiet_until(
        at=dt.datetime(2026, 8, 10, 14, 30, tzinfo=dt.UTC), start=dt.time(22), end=dt.time(7)
    ) == (_jst(7, day=11))


def test_quiet_hours_hold_pushes_and_release_them_when_they_end(
    resident, make_subscriber, push_service, eager, django_capture_on_commit_callbacks, monkeypatch
):
    subscriber = make_subscriber()
    subscribe(resident, subscriber)
    _verified_email(resident, quiet_start=_quiet_around_now()[0], quiet_end=_quiet_around_now()[1])

    with django_capture_on_commit_callbacks(execute=True):
        deliveries = services.notify_resident(
            resident=resident, kind="notice", category="tax", url="/notices/"
        )

    push = next(d for d in deliveries if d.channel == Channel.PUSH)
    mail = next(d for d in deliveries if d.channel == Channel.EMAIL)
    assert push.status == DeliveryStatus.HELD and push.due_at > timezone.now()
    assert mail.status == DeliveryStatus.QUEUED  # quiet hours are for pushes only
    assert push_service.requests == []

    with django_capture_on_commit_callbacks(execute=True):
        assert released() == 0  # still quiet
    assert push_service.requests == []

    later = push.due_at + dt.timedelta(seconds=30)
    monkeypatch.setattr(timezone, "now", lambda: later)
    with django_capture_on_commit_callbacks(execute=True):
        assert released() == 1

    (request,) = push_service.requests
    assert subscriber.decrypt(request.body) == NOTICE_PAYLOAD
    push.refresh_from_db()
    assert push.status == DeliveryStatus.SENT and push.sent_at == later


def test_a_queued_push_that_falls_into_quiet_hours_waits(
    resident, make_subscriber, push_service, eager, django_capture_on_commit_callbacks
):
    subscribe(resident, make_subscriber())
    with django_capture_on_commit_callbacks(execute=False) as queued:
        (delivery,) = services.notify_resident(
            resident=resident, kind="notice", category="tax", url="/notices/"
        )
    start, end = _quiet_around_now()
    _preference(resident, quiet_start=start, quiet_end=end)  # set before the worker got to it

    for callback in queued:
        callback()

    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.HELD and delivery.due_at > timezone.now()
    assert push_service.requests == []


# --- preferences --------------------------------------------------------------------------------------------


def test_each_category_goes_only_where_the_resident_asked(
    resident, make_subscriber, push_service, smtp_server, eager, django_capture_on_commit_callbacks
):
    subscribe(resident, make_subscriber())
    _verified_email(resident, push_categories=["tax", "release_alert"], email_categories=["welfare"])

    def channels(category: str) -> list[str]:
        with django_capture_on_commit_callbacks(execute=True):
            made = services.notify_resident(
                resident=resident, kind="notice", category=category, url="/notices/"
            )
        return sorted(d.channel for d in made)

    assert channels("tax") == ["push"]
    assert channels("welfare") == ["email"]
    assert channels("pension") == []
    assert len(push_service.requests) == 1 and len(smtp_server.messages) == 1


def test_defaults_push_everything_and_mail_nothing_without_a_confirmed_address(
    resident, make_subscriber, push_service, eager, django_capture_on_commit_callbacks
):
    subscribe(resident, make_subscriber())
    _preference(resident, email_pending="waiting@example.jp")
    with django_capture_on_commit_callbacks(execute=True):
        made = services.notify_resident(resident=resident, kind="notice", category="general", url="/notices/")
    assert [d.channel for d in made] == ["push"]


def test_a_category_switched_off_before_sending_is_skipped(
    resident, make_subscriber, push_service, eager, django_capture_on_commit_callbacks
):
    subscribe(resident, make_subscriber())
    with django_capture_on_commit_callbacks(execute=False) as queued:
        (delivery,) = services.notify_resident(
            resident=resident, kind="notice", category="child", url="/notices/"
        )
    _preference(resident, push_categories=["tax"])
    for callback in queued:
        callback()
    delivery.refresh_from_db()
    assert (delivery.status, delivery.error_code) == (DeliveryStatus.SKIPPED, "preference")
    assert push_service.requests == []


def test_a_resident_with_nothing_registered_gets_nothing(resident):
    assert services.notify_resident(resident=resident, kind="notice", category="tax", url="/notices/") == []
    assert not Delivery.objects.exists()


@pytest.mark.parametrize(
    "arguments",
    [
        {"kind": "spam", "category": "tax", "url": "/notices/"},
        {"kind": "notice", "category": "lottery", "url": "/notices/"},
        {"kind": "notice", "category": "tax", "url": "https://phish.example/"},
        {"kind": "notice", "category": "tax", "url": "//phish.example/"},
        {"kind": "notice", "category": "tax", "url": "/notices/\nX-Injected: 1"},
    ],
)
def test_callers_mistakes_are_refused(resident, arguments):
    with pytest.raises(ValueError):
        services.notify_resident(resident=resident, **arguments)


def test_the_same_dedupe_key_makes_nothing_twice(resident, make_subscriber, push_service):
    subscribe(resident, make_subscriber())
    first = services.notify_resident(
        resident=resident, kind="notice", category="tax", url="/notices/", dedupe_key="notice:1"
    )
    again = services.notify_resident(
        resident=resident, kind="notice", category="tax", url="/notices/", dedupe_key="notice:1"
    )
    assert len(first) == 1 and again == []


# --- the access history's alerts ----------------------------------------------------------------------------


def test_a_release_alert_is_pushed_after_the_record_commits(
    resident, make_subscriber, push_service, eager, django_capture_on_commit_callbacks
):
    subscriber = make_subscriber()
    subscribe(resident, subscriber)
    AlertPreference.objects.create(resident=resident, on_firm_reads=True)

    with django_capture_on_commit_callbacks(execute=True):
        record = release_record(
            owner=resident,
            actor=BANK,
            category="income_tax",
            items=["income"],
            purpose="審査",
            channel="firm_api",
        )

    assert ReleaseAlert.objects.filter(resident=resident, record_seq=record.seq).exists()
    (request,) = push_service.requests
    payload = subscriber.decrypt(request.body)
    assert payload == {
        "title": "マイナポータル",
        "body": "アクセス記録に新しいお知らせがあります",
        "url": "/history/",
    }
    assert "さくら" not in request.body.decode("latin-1")
    (delivery,) = Delivery.objects.filter(resident=resident)
    assert (delivery.kind, delivery.category, delivery.status) == ("release_alert", "release_alert", "sent")


def test_a_release_without_an_alert_tells_nobody(
    resident, make_subscriber, push_service, eager, django_capture_on_commit_callbacks
):
    subscribe(resident, make_subscriber())
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        release_record(
            owner=resident,
            actor=Actor.for_resident(resident),
            category="identity",
            items=["name"],
            purpose="dashboard",
            channel="web",
        )
    assert callbacks == [] and push_service.requests == []


def test_a_deferred_release_is_not_pushed_before_its_disclosure(
    resident, make_subscriber, push_service, eager, django_capture_on_commit_callbacks, monkeypatch
):
    subscribe(resident, make_subscriber())
    disclose_from = timezone.now() + dt.timedelta(days=30)
    staff = Actor(type="staff", ref="staff:1", label="監査")

    with django_capture_on_commit_callbacks(execute=True):
        release_record(
            owner=resident,
            actor=staff,
            category="identity",
            items=["name"],
            purpose="support",
            channel="admin",
            disclose_from=disclose_from,
        )

    (delivery,) = Delivery.objects.filter(resident=resident)
    assert delivery.status == DeliveryStatus.HELD and delivery.due_at == disclose_from
    with django_capture_on_commit_callbacks(execute=True):
        assert released() == 0
    assert push_service.requests == []

    monkeypatch.setattr(timezone, "now", lambda: disclose_from + dt.timedelta(minutes=1))
    with django_capture_on_commit_callbacks(execute=True):
        assert released() == 1
    assert len(push_service.requests) == 1
