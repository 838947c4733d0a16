"""The shared lost-task sweep (portal.core.lost_tasks): every kind of owed work registered, one beat entry,
a stall that outlasts redelivery and every retry, one kind's trouble kept from the others, kinds that send
many rows together, and due work told apart from lost work in the log."""

from datetime import timedelta

import kombu.exceptions
import pytest
from django.conf import settings
from django.utils import timezone

from portal.celery import QUEUE_DEFAULT
from portal.celery import app as celery_app
from portal.core import lost_tasks
from portal.core.lost_tasks import LostTaskKind, lost_task_kinds, lost_task_stall, lost_tasks_recover
from portal.core.tasks import recover_lost_tasks
from portal.identity.models import Resident
from tests.factories import ResidentFactory

pytestmark = pytest.mark.django_db

EXPECTED_KINDS = {
    "account.bank_check",
    "consents.controller_change",
    "consents.firm_told_of_end",
    "firms.event_mail",
    "myinfo.fetch",
    "myinfo.mislink_report",
    "notices.announce",
    "notices.webhook",
    "notify.delivery",
    "provision.refresh",
    "proxies.insurer_registration",
    "proxies.insurer_withdrawal",
}


def test_every_kind_of_owed_work_is_registered():
    assert set(lost_task_kinds()) == EXPECTED_KINDS


def test_one_beat_entry_sweeps_every_minute_on_the_default_queue():
    schedule = settings.CELERY_BEAT_SCHEDULE.values()
    (entry,) = [e for e in schedule if e["task"] == recover_lost_tasks.name]
    assert entry["schedule"] == timedelta(minutes=1)
    route = celery_app.amqp.router.route({}, recover_lost_tasks.name, (), {})
    assert route["queue"].name == QUEUE_DEFAULT
    retired = {
        "myinfo.recover_stalled_fetches",
        "proxies.resend_insurer_registrations",
        "notify.release_held",
        "notices.send_due_webhooks",
    }
    assert not retired & {e["task"] for e in schedule}


def test_the_stall_outlasts_the_redelivery_of_a_dead_worker_s_task():
    # A task whose worker died comes back after the visibility timeout: the sweep must not beat it to it.
    visibility = settings.CELERY_BROKER_TRANSPORT_OPTIONS.get("visibility_timeout", 3600)
    assert lost_task_stall() > timedelta(seconds=visibility)


@pytest.mark.parametrize("kind", sorted(EXPECTED_KINDS))
def test_every_retry_of_a_kind_s_tasks_comes_within_a_stall(kind):
    # A retry waiting its countdown must never look lost: its longest back-off is shorter than the stall.
    names = lost_task_kinds()[kind].tasks
    assert names
    celery_app.loader.import_default_modules()  # the apps' task modules, as a worker loads them
    for name in names:
        task = celery_app.tasks[name]
        if getattr(task, "autoretry_for", ()):
            assert task.retry_backoff_max < lost_task_stall().total_seconds(), name


def _kind(name: str, send_again) -> LostTaskKind:
    """A kind owing one row (a resident stands in for any owed row)."""
    return LostTaskKind(name=name, owed=lambda *, cutoff, now: Resident.objects.all(), send_again=send_again)


def test_a_broker_that_refuses_one_kind_leaves_the_others_to_their_sweep(monkeypatch):
    ResidentFactory()

    def refuse(row, *, now):
        raise kombu.exceptions.OperationalError("Error 111 connecting to 127.0.0.1:6379. Connection refused.")

    def fail(row, *, now):
        raise RuntimeError("a fault of ours")

    monkeypatch.setitem(lost_tasks._KINDS, "test.refused", _kind("test.refused", refuse))
    monkeypatch.setitem(lost_tasks._KINDS, "test.faulty", _kind("test.faulty", fail))
    monkeypatch.setitem(lost_tasks._KINDS, "test.fine", _kind("test.fine", lambda row, *, now: "sent_again"))

    report = lost_tasks_recover(now=timezone.now(), kinds=["test.refused", "test.faulty", "test.fine"])
    assert report == {
        "test.refused": {"broker_unreachable": 1},
        "test.faulty": {"error": 1},
        "test.fine": {"sent_again": 1},
    }


def test_a_kind_that_sends_many_rows_together_gets_at_most_its_batch(monkeypatch):
    ResidentFactory.create_batch(3)
    taken: list[list[int]] = []

    def send_again_many(rows, *, now):
        taken.append([row.pk for row in rows])
        return {"sent_again": len(rows) - 1, "released": 1}

    kind = LostTaskKind(
        name="test.many",
        owed=lambda *, cutoff, now: Resident.objects.order_by("pk"),
        send_again_many=send_again_many,
        batch=2,
    )
    monkeypatch.setitem(lost_tasks._KINDS, kind.name, kind)
    assert lost_tasks_recover(now=timezone.now(), kinds=[kind.name]) == {
        kind.name: {"sent_again": 1, "released": 1}
    }
    assert [len(rows) for rows in taken] == [2]


def test_a_kind_that_sends_many_is_not_called_with_none(monkeypatch):
    kind = LostTaskKind(
        name="test.none",
        owed=lambda *, cutoff, now: Resident.objects.none(),
        send_again_many=lambda rows, *, now: 1 / 0,
    )
    monkeypatch.setitem(lost_tasks._KINDS, kind.name, kind)
    assert lost_tasks_recover(now=timezone.now(), kinds=[kind.name]) == {kind.name: {}}


@pytest.mark.parametrize("both", [True, False])
def test_a_kind_sends_again_one_way(both):
    ways = {"send_again": lambda row, *, now: "sent_again", "send_again_many": lambda rows, *, now: {}}
    with pytest.raises(ValueError, match="one of send_again and send_again_many"):
        LostTaskKind(name="test.ways", owed=Resident.objects.none, **(ways if both else {}))


def test_released_work_is_routine_and_lost_work_a_warning(monkeypatch, caplog):
    ResidentFactory()
    monkeypatch.setitem(lost_tasks._KINDS, "test.due", _kind("test.due", lambda row, *, now: "released"))
    monkeypatch.setitem(lost_tasks._KINDS, "test.lost", _kind("test.lost", lambda row, *, now: "sent_again"))
    with caplog.at_level("INFO", logger=lost_tasks.__name__):
        lost_tasks_recover(now=timezone.now(), kinds=["test.due", "test.lost"])
    levels = {r.getMessage().split(":")[0]: r.levelname for r in caplog.records}
    assert levels == {"due work of test.due queued": "INFO", "lost tasks of test.lost": "WARNING"}


def test_the_task_reports_every_kind():
    assert set(recover_lost_tasks.apply().get()) == EXPECTED_KINDS
