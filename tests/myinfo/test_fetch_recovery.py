"""The sweep for lost fetches (a broker restarted without its data): sent again while the request is
recent, given up when it is old, and nothing that is alive or ended touched."""

from datetime import timedelta

import kombu.exceptions
import pytest
from django.conf import settings
from django.utils import timezone

from portal.celery import QUEUE_DEFAULT
from portal.celery import app as celery_app
from portal.core.lost_tasks import lost_tasks_recover
from portal.core.tasks import recover_lost_tasks
from portal.myinfo.models import CategoryEntry, EntryState, FetchError
from portal.myinfo.services import FETCH_RESEND_LIMIT, fetch_stall
from portal.myinfo.tasks import fetch_category
from tests.myinfo.conftest import HOUSEHOLD_DATA, answer_for

pytestmark = pytest.mark.django_db

LONG_AGO = timedelta(minutes=16)


def myinfo_fetches_recover(*, now) -> dict[str, int]:
    """The lost-task sweep of fetches alone: how many were sent again, given up."""
    return lost_tasks_recover(now=now, kinds=["myinfo.fetch"])["myinfo.fetch"]


@pytest.fixture
def sent(monkeypatch) -> list[dict]:
    """The fetch tasks the sweep sends, by their arguments."""
    calls: list[dict] = []
    monkeypatch.setattr(fetch_category, "apply_async", lambda **options: calls.append(options["kwargs"]))
    return calls


def _entry(resident, category="household", *, state=EntryState.FETCHING, **fields) -> CategoryEntry:
    return CategoryEntry.objects.create(
        resident=resident, category=category, agency_id="municipal-resident", state=state, **fields
    )


def test_a_fetch_lost_with_the_queue_is_sent_again_for_the_same_request(resident, sent):
    now = timezone.now()
    lost = _entry(resident, requested_at=now - LONG_AGO, resent_at=now - LONG_AGO)

    assert myinfo_fetches_recover(now=now) == {"sent_again": 1}

    # The same request: should the old message turn up after all, whichever runs second does nothing.
    assert sent == [
        {"resident_id": resident.pk, "category": "household", "requested_at": lost.requested_at.isoformat()}
    ]
    lost.refresh_from_db()
    assert (lost.state, lost.resent_at, lost.attempts) == (EntryState.FETCHING, now, 0)


def test_a_lost_retry_is_sent_again(resident, sent):
    now = timezone.now()
    _entry(
        resident,
        state=EntryState.FAILED,
        last_error_code=FetchError.UNAVAILABLE,
        requested_at=now - LONG_AGO,
        last_attempt_at=now - LONG_AGO,
        attempts=2,
    )
    assert myinfo_fetches_recover(now=now) == {"sent_again": 1}
    assert [s["category"] for s in sent] == ["household"]


def test_fetches_showing_a_sign_of_life_are_left_alone(resident, sent):
    now = timezone.now()
    _entry(resident, "household", requested_at=now - timedelta(minutes=1))  # queued a minute ago
    _entry(resident, "pension", requested_at=now - LONG_AGO, last_attempt_at=now - timedelta(minutes=1))
    _entry(resident, "income_tax", requested_at=now - LONG_AGO, resent_at=now - timedelta(minutes=1))
    _entry(
        resident,
        "vaccination",
        state=EntryState.FAILED,
        last_error_code=FetchError.UNAVAILABLE,
        requested_at=now - LONG_AGO,
        last_attempt_at=now - timedelta(minutes=2),  # its retry is due in a moment
    )
    assert myinfo_fetches_recover(now=now) == {}
    assert sent == []


def test_ended_entries_are_never_touched(resident, sent):
    now = timezone.now()
    old = now - FETCH_RESEND_LIMIT * 2
    _entry(resident, "household", state=EntryState.DONE, requested_at=old)
    _entry(resident, "pension", state=EntryState.QUARANTINED, requested_at=old)
    for category, error in (
        ("income_tax", FetchError.GAVE_UP),
        ("vaccination", FetchError.NOT_SERVED),
        ("disability", FetchError.NOT_STARTED),
    ):
        _entry(resident, category, state=EntryState.FAILED, last_error_code=error, requested_at=old)
    before = {e.pk: (e.state, e.last_error_code, e.updated_at) for e in CategoryEntry.objects.all()}

    assert myinfo_fetches_recover(now=now) == {}
    assert sent == []
    assert {e.pk: (e.state, e.last_error_code, e.updated_at) for e in CategoryEntry.objects.all()} == before


def test_a_request_too_old_to_send_again_is_given_up(resident, sent):
    now = timezone.now()
    old = _entry(resident, requested_at=now - FETCH_RESEND_LIMIT - timedelta(seconds=1))

    assert myinfo_fetches_recover(now=now) == {"given_up": 1}

    assert sent == []
    old.refresh_from_db()
    assert (old.state, old.last_error_code) == (EntryState.FAILED, FetchError.GAVE_UP)


def test_a_fetch_sent_again_is_not_sent_again_at_the_next_sweep(resident, sent):
    now = timezone.now()
    _entry(resident, requested_at=now - LONG_AGO)
    myinfo_fetches_recover(now=now)
    assert myinfo_fetches_recover(now=now + timedelta(minutes=1)) == {}
    # Lost again (the broker restarted once more): sent again once its new stall has passed.
    assert myinfo_fetches_recover(now=now + fetch_stall())["sent_again"] == 1
    assert len(sent) == 2


def test_a_broker_that_refuses_leaves_the_entries_for_the_next_sweep(resident, monkeypatch):
    def refuse(**options):
        raise kombu.exceptions.OperationalError("Error 111 connecting to 127.0.0.1:6379. Connection refused.")

    monkeypatch.setattr(fetch_category, "apply_async", refuse)
    now = timezone.now()
    lost = _entry(resident, requested_at=now - LONG_AGO)
    given_up = _entry(resident, "pension", requested_at=now - FETCH_RESEND_LIMIT * 2)

    assert myinfo_fetches_recover(now=now) == {"broker_unreachable": 1}

    lost.refresh_from_db()
    given_up.refresh_from_db()
    assert lost.resent_at is None  # not marked as sent: the next sweep sends it
    assert given_up.state == EntryState.FETCHING  # the whole sweep rolled back


def test_the_stall_follows_the_setting(resident, sent, settings):
    settings.LOST_TASK_STALL_SECONDS = 2
    now = timezone.now()
    _entry(resident, requested_at=now - timedelta(seconds=3))
    assert myinfo_fetches_recover(now=now)["sent_again"] == 1


def test_the_stall_outlasts_the_redelivery_of_a_dead_worker_s_task():
    # A task whose worker died comes back after the visibility timeout: the sweep must not beat it to it.
    visibility = settings.CELERY_BROKER_TRANSPORT_OPTIONS.get("visibility_timeout", 3600)
    assert fetch_stall() > timedelta(seconds=visibility)


def test_the_sweep_runs_on_the_beat_every_minute():
    schedule = settings.CELERY_BEAT_SCHEDULE.values()
    (entry,) = [e for e in schedule if e["task"] == recover_lost_tasks.name]
    assert entry["schedule"] == timedelta(minutes=1)
    route = celery_app.amqp.router.route({}, recover_lost_tasks.name, (), {})
    assert route["queue"].name == QUEUE_DEFAULT


def test_a_fetch_sent_again_by_the_task_arrives_once(agencies, resident, monkeypatch):
    agencies.answer("household", answer_for(resident, "household", HOUSEHOLD_DATA))
    _entry(resident, requested_at=timezone.now() - LONG_AGO)
    monkeypatch.setitem(celery_app.conf, "task_always_eager", True)  # the fetch runs here, as a worker would

    assert recover_lost_tasks.apply().get()["myinfo.fetch"] == {"sent_again": 1}

    entry = CategoryEntry.objects.get(resident=resident, category="household")
    assert (entry.state, entry.attempts) == (EntryState.DONE, 1)
    assert len(agencies.fetches("household")) == 1
