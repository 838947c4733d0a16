"""A real Celery worker fetches a demo resident's records from the real simulator process over HTTP."""

import uuid

import pytest

from portal.agencies.client import agency_get
from portal.provision.models import FetchError, ProvisionFetch, ProvisionRecord
from portal.provision.services import PROVISION_AGENCY_ID
from portal.provision.tasks import refresh_records
from tests.conftest import PEOPLE
from tests.factories import ResidentFactory
from tests.integration.conftest import pointed_at, running_worker, wait_until
from tests.provision.conftest import network_code

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

TIMEOUT = 60


@pytest.fixture
def worker_queue(worker_environment, portal_to_agency, tmp_path):
    """A worker of its own, on a queue of its own, pointed at this run's simulator through its environment."""
    queue = f"provision-test-{uuid.uuid4().hex[:8]}"
    environment = pointed_at(worker_environment, portal_to_agency)
    log_path = tmp_path / "worker.log"
    with running_worker(environment, queues=(queue,), name=queue, log_path=log_path) as process:
        yield queue
        assert process.poll() is None, log_path.read_text()


@pytest.fixture
def misaki():
    person = PEOPLE["sato-misaki"]
    return ResidentFactory(my_number=person["my_number"], name=person["name"], name_kana=person["name_kana"])


def _fetch(resident) -> ProvisionFetch | None:
    return ProvisionFetch.objects.filter(resident=resident).first()


def _succeeded_after(resident, moment):
    def check():
        fetch = _fetch(resident)
        return (
            fetch is not None
            and fetch.last_success_at is not None
            and (moment is None or fetch.last_success_at > moment)
        )

    return check


def _stored_ids(resident) -> list[str]:
    return sorted(ProvisionRecord.objects.filter(resident=resident).values_list("external_id", flat=True))


def _network_ids(resident) -> list[str]:
    path = f"residents/{network_code(resident)}/provision-records"
    return sorted(r["id"] for r in agency_get(agency_id=PROVISION_AGENCY_ID, path=path)["records"])


def test_records_arrive(worker_queue, misaki):
    refresh_records.apply_async(kwargs={"resident_id": misaki.pk}, queue=worker_queue)
    wait_until(_succeeded_after(misaki, None), timeout=TIMEOUT, what="the worker to fetch the records")

    stored = _stored_ids(misaki)
    assert stored == _network_ids(misaki)
    assert 5 <= len(stored) <= 40
    records = ProvisionRecord.objects.filter(resident=misaki)
    assert any(r.procedure_ja.startswith("児童扶養手当") for r in records)


def test_outage_keeps_the_records_and_says_so_then_recovers(worker_queue, misaki, portal_to_agency):
    refresh_records.apply_async(kwargs={"resident_id": misaki.pk}, queue=worker_queue)
    wait_until(_succeeded_after(misaki, None), timeout=TIMEOUT, what="the first fetch")
    before = _stored_ids(misaki)
    succeeded_at = _fetch(misaki).last_success_at

    portal_to_agency.set_faults(PROVISION_AGENCY_ID, outage=True, retry_after_s=1)
    try:
        refresh_records.apply_async(kwargs={"resident_id": misaki.pk}, queue=worker_queue)
        wait_until(
            lambda: _fetch(misaki).last_error_code == FetchError.UNAVAILABLE,
            timeout=TIMEOUT,
            what="the worker to record the outage",
        )
        assert _stored_ids(misaki) == before
        assert _fetch(misaki).last_success_at == succeeded_at
    finally:
        portal_to_agency.clear_faults(PROVISION_AGENCY_ID)

    # The task retries with back-off; once the network is back, a retry succeeds.
    wait_until(_succeeded_after(misaki, succeeded_at), timeout=TIMEOUT, what="a retry after the outage")
    assert _fetch(misaki).last_error_code == ""
    assert _stored_ids(misaki) == before


def test_redelivery_does_not_duplicate(worker_queue, misaki):
    task_id = str(uuid.uuid4())
    refresh_records.apply_async(kwargs={"resident_id": misaki.pk}, queue=worker_queue, task_id=task_id)
    wait_until(_succeeded_after(misaki, None), timeout=TIMEOUT, what="the first delivery")
    first = _stored_ids(misaki)
    succeeded_at = _fetch(misaki).last_success_at

    # The same message again, as the broker redelivers an unacknowledged task after a worker crash.
    refresh_records.apply_async(kwargs={"resident_id": misaki.pk}, queue=worker_queue, task_id=task_id)
    wait_until(_succeeded_after(misaki, succeeded_at), timeout=TIMEOUT, what="the redelivered task")

    assert _stored_ids(misaki) == first
    assert ProvisionRecord.objects.filter(resident=misaki).count() == len(set(first))
