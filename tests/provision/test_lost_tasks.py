"""A refresh of the provision records whose task was lost is sent again by the lost-task sweep, once; an
old one is given up (the page asks again when opened)."""

from datetime import timedelta

import pytest
from django.utils import timezone

from portal.core.lost_tasks import lost_task_stall, lost_tasks_recover
from portal.provision.models import FetchError, ProvisionFetch, ProvisionRecord
from portal.provision.services import REFRESH_RESEND_LIMIT, provision_refresh_schedule
from portal.provision.tasks import refresh_records
from tests.provision.conftest import network_code, provision_answer, provision_record

pytestmark = pytest.mark.django_db

KIND = "provision.refresh"


def sweep(now) -> dict[str, int]:
    return lost_tasks_recover(now=now, kinds=[KIND])[KIND]


@pytest.fixture
def sent(monkeypatch) -> list[dict]:
    calls: list[dict] = []
    monkeypatch.setattr(refresh_records, "apply_async", lambda **options: calls.append(options["kwargs"]))
    return calls


def _lost_request(resident, django_capture_on_commit_callbacks) -> ProvisionFetch:
    with django_capture_on_commit_callbacks(execute=False):  # the task never reached the broker
        provision_refresh_schedule(resident=resident)
    return ProvisionFetch.objects.get(resident=resident)


def test_a_lost_refresh_is_sent_again_once_for_the_same_request(
    resident, sent, django_capture_on_commit_callbacks
):
    fetch = _lost_request(resident, django_capture_on_commit_callbacks)
    later = timezone.now() + lost_task_stall() + timedelta(seconds=1)

    assert sweep(timezone.now()) == {}
    assert sweep(later) == {"sent_again": 1}
    assert sent == [{"resident_id": resident.pk, "requested_at": fetch.requested_at.isoformat()}]
    assert sweep(later + timedelta(minutes=1)) == {}


def test_an_answered_request_is_owed_no_more(network, resident, sent, django_capture_on_commit_callbacks):
    fetch = _lost_request(resident, django_capture_on_commit_callbacks)
    network.answer_json(provision_answer(network_code(resident), [provision_record(1)]))
    kwargs = {"resident_id": resident.pk, "requested_at": fetch.requested_at.isoformat()}
    assert refresh_records.apply(kwargs=kwargs).get() == 1
    # The sweep's copy, had it been sent too, does nothing: one fetch, one record.
    assert refresh_records.apply(kwargs=kwargs).get() == 0
    assert len(network.requests) == 1 and ProvisionRecord.objects.filter(resident=resident).count() == 1

    fetch.refresh_from_db()
    assert fetch.requested_at is None
    assert sweep(timezone.now() + lost_task_stall() * 2) == {}
    assert sent == []


def test_a_final_refusal_ends_the_request_and_unavailability_keeps_it(
    network, resident, sent, django_capture_on_commit_callbacks
):
    fetch = _lost_request(resident, django_capture_on_commit_callbacks)
    kwargs = {"resident_id": resident.pk, "requested_at": fetch.requested_at.isoformat()}
    network.reply = (503, "application/json", b"{}")
    refresh_records.apply(kwargs=kwargs, retries=refresh_records.max_retries)  # its last try
    fetch.refresh_from_db()
    assert fetch.requested_at is None and fetch.last_error_code == FetchError.GAVE_UP

    fetch = _lost_request(resident, django_capture_on_commit_callbacks)
    network.reply = (400, "application/json", b'{"error": "bad_request"}')
    refresh_records.apply(kwargs={**kwargs, "requested_at": fetch.requested_at.isoformat()})
    fetch.refresh_from_db()
    assert fetch.requested_at is None and fetch.last_error_code == FetchError.REFUSED


def test_an_old_lost_refresh_is_given_up(resident, sent, django_capture_on_commit_callbacks):
    fetch = _lost_request(resident, django_capture_on_commit_callbacks)
    much_later = fetch.requested_at + REFRESH_RESEND_LIMIT + timedelta(seconds=1)

    assert sweep(much_later) == {"given_up": 1}
    assert sent == []
    fetch.refresh_from_db()
    assert fetch.requested_at is None and fetch.last_error_code == FetchError.GAVE_UP
