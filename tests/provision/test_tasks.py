"""The refresh task: its settings, its state check, its final failed state (run eagerly here)."""

import pytest
from django.utils import timezone

from portal.celery import QUEUE_FETCH
from portal.celery import app as celery_app
from portal.provision.models import FetchError, ProvisionFetch, ProvisionRecord
from portal.provision.services import provision_refresh_schedule
from portal.provision.tasks import refresh_records
from tests.provision.conftest import network_code, provision_answer, provision_record

pytestmark = pytest.mark.django_db


def test_task_is_declared_for_the_fetch_queue():
    assert refresh_records.name == "provision.refresh_records"
    assert celery_app.amqp.router.route({}, refresh_records.name, (), {})["queue"].name == QUEUE_FETCH
    assert refresh_records.acks_late is True
    assert refresh_records.max_retries == 5
    assert refresh_records.retry_jitter is True and refresh_records.retry_backoff
    assert refresh_records.soft_time_limit < refresh_records.time_limit


def test_task_stores_the_records(network, resident):
    network.answer_json(provision_answer(network_code(resident), [provision_record(1), provision_record(2)]))
    assert refresh_records.apply(kwargs={"resident_id": resident.pk}).get() == 2
    assert ProvisionRecord.objects.filter(resident=resident).count() == 2


def test_a_copy_queued_before_a_later_success_does_nothing(network, resident):
    requested_at = timezone.now().isoformat()
    network.answer_json(provision_answer(network_code(resident), [provision_record(1)]))
    refresh_records.apply(kwargs={"resident_id": resident.pk})
    asked = len(network.requests)

    assert refresh_records.apply(kwargs={"resident_id": resident.pk, "requested_at": requested_at}).get() == 0
    assert len(network.requests) == asked


def test_a_closed_folder_is_nothing_to_do(network):
    assert refresh_records.apply(kwargs={"resident_id": 987654321}).get() == 0
    assert network.requests == []


def test_retries_run_out_into_a_visible_failed_state(network, resident):
    network.reply = (503, "application/json", b'{"error": "agency_unavailable"}')
    result = refresh_records.apply(kwargs={"resident_id": resident.pk})
    assert result.failed()
    assert len(network.requests) == 1 + refresh_records.max_retries
    assert ProvisionFetch.objects.get(resident=resident).last_error_code == FetchError.GAVE_UP


def test_a_final_refusal_is_not_retried(network, resident):
    network.answer_json({"error": "unknown_code"}, status=404)
    result = refresh_records.apply(kwargs={"resident_id": resident.pk})
    assert result.failed() and len(network.requests) == 1
    assert ProvisionFetch.objects.get(resident=resident).last_error_code == FetchError.REFUSED


def test_schedule_queues_after_commit(resident, monkeypatch, django_capture_on_commit_callbacks):
    sent = []
    monkeypatch.setattr(refresh_records, "apply_async", lambda **options: sent.append(options))
    with django_capture_on_commit_callbacks(execute=True):
        provision_refresh_schedule(resident=resident)
        assert sent == []
    (options,) = sent
    assert options["kwargs"]["resident_id"] == resident.pk and options["kwargs"]["requested_at"]
