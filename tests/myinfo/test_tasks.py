"""The tasks: settings and queues, retries into a visible failed state, purge on the beat (run eagerly)."""

import pytest
from django.conf import settings
from django.utils import timezone

from portal.celery import QUEUE_DEFAULT, QUEUE_FETCH, QUEUES
from portal.celery import app as celery_app
from portal.myinfo.models import CategoryEntry, EntryState, FetchError
from portal.myinfo.tasks import fetch_category, purge_expired, report_mislink
from tests.myinfo.conftest import HOUSEHOLD_DATA, answer_for

pytestmark = pytest.mark.django_db


def _queue(task) -> str:
    return celery_app.amqp.router.route({}, task.name, (), {})["queue"].name


def test_fetch_task_is_declared_for_the_fetch_queue():
    assert fetch_category.name == "myinfo.fetch_category"
    assert _queue(fetch_category) == QUEUE_FETCH and _queue(report_mislink) == QUEUE_FETCH
    assert _queue(purge_expired) == QUEUE_DEFAULT
    assert {QUEUE_FETCH, QUEUE_DEFAULT} <= set(QUEUES)
    assert fetch_category.acks_late is True and fetch_category.reject_on_worker_lost is True
    assert fetch_category.max_retries == 5
    assert fetch_category.retry_jitter is True and fetch_category.retry_backoff
    assert fetch_category.soft_time_limit < fetch_category.time_limit
    # A retry's countdown is held unacknowledged by a worker: it must end before the broker redelivers.
    visibility = settings.CELERY_BROKER_TRANSPORT_OPTIONS.get("visibility_timeout", 3600)
    assert fetch_category.retry_backoff_max + fetch_category.time_limit < visibility


def test_purge_runs_on_the_beat():
    (entry,) = [e for e in settings.CELERY_BEAT_SCHEDULE.values() if e["task"] == purge_expired.name]
    assert entry["schedule"].total_seconds() <= 3600


def test_task_fetches_and_stores(agencies, resident):
    agencies.answer("household", answer_for(resident, "household", HOUSEHOLD_DATA))
    result = fetch_category.apply(
        kwargs={
            "resident_id": resident.pk,
            "category": "household",
            "requested_at": timezone.now().isoformat(),
        }
    )
    assert result.get() == EntryState.DONE


def test_retries_run_out_into_a_visible_failed_state(agencies, resident, settings):
    settings.AGENCY_BREAKER_FAILURES = 100  # count the task's own retries here, not the breaker's
    agencies.answer("household", {"error": "agency_unavailable"}, status=503)

    result = fetch_category.apply(kwargs={"resident_id": resident.pk, "category": "household"})

    assert result.failed()
    assert len(agencies.requests) == 1 + fetch_category.max_retries
    entry = CategoryEntry.objects.get(resident=resident, category="household")
    assert (entry.state, entry.last_error_code) == (EntryState.FAILED, FetchError.GAVE_UP)
    assert entry.attempts == 1 + fetch_category.max_retries


def test_the_breaker_spares_a_dead_agency_the_later_retries(agencies, resident, settings):
    settings.AGENCY_BREAKER_FAILURES = 2
    agencies.answer("household", {"error": "agency_unavailable"}, status=503)

    result = fetch_category.apply(kwargs={"resident_id": resident.pk, "category": "household"})

    assert result.failed()
    assert len(agencies.requests) == 2
    entry = CategoryEntry.objects.get(resident=resident, category="household")
    assert entry.last_error_code == FetchError.GAVE_UP


def test_a_final_refusal_is_not_retried(agencies, resident):
    agencies.answer("household", {"error": "unknown_code"}, status=404)
    result = fetch_category.apply(kwargs={"resident_id": resident.pk, "category": "household"})
    assert result.get() == EntryState.FAILED and len(agencies.requests) == 1
    entry = CategoryEntry.objects.get(resident=resident, category="household")
    assert entry.last_error_code == FetchError.NOT_FOUND  # not overwritten by "gave up"


def test_the_report_task_sends_a_pending_report(agencies, resident, no_report_task):
    from portal.myinfo.models import Quarantine
    from portal.myinfo.services import category_fetch
    from tests.myinfo.conftest import json_reply

    stranger = {"name": "鈴木 一朗", "name_kana": "スズキ イチロウ", "birth_date": "1979-08-01"}
    agencies.answer("pension", answer_for(resident, "pension", {"records": []}, subject=stranger))
    agencies.report_reply = json_reply({"error": "injected_error"}, status=500)
    category_fetch(resident_id=resident.pk, category="pension")
    quarantine = Quarantine.objects.get(resident=resident)

    agencies.report_reply = json_reply({"report_id": "MLR-9", "status": "received"}, status=202)
    assert report_mislink.apply(kwargs={"quarantine_id": quarantine.pk}).get() == "MLR-9"
