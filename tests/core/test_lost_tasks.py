"""The shared lost-task sweep (portal.core.lost_tasks): every kind of owed work registered, one beat entry,
a stall that outlasts redelivery and every retry, and one kind's trouble kept from the others."""

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
    retired = {"myinfo.recover_stalled_fetches", "proxies.resend_insurer_registrations"}
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


def test_the_task_reports_every_kind():
    assert set(recover_lost_tasks.apply().get()) == EXPECTED_KINDS
