"""Real Celery workers fetch a demo resident's categories from the real simulator process over HTTP.

Each test routes the myinfo tasks to a queue of its own, consumed by a worker pointed at this run's
simulator through its environment (workers read settings from the environment only).
"""

import datetime as dt
import os
import signal
import time
from contextlib import contextmanager

import pytest

from portal.identity.models import SecurityEvent
from portal.myinfo.models import MYINFO_CATEGORIES, CategoryEntry, EntryState, FetchError, Quarantine
from portal.myinfo.selectors import CardState, myinfo_overview, myinfo_payload
from portal.myinfo.services import myinfo_refresh_start
from tests.conftest import PEOPLE
from tests.factories import ResidentFactory
from tests.integration.conftest import myinfo_tasks_to_own_queue, pointed_at, running_worker, wait_until

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

TIMEOUT = 60
SERVED = ["household", "child_allowance"]
# Short enough for a test to see a task of a killed worker come back; see test_a_killed_worker...
VISIBILITY_SECONDS = 5


@pytest.fixture
def queue(monkeypatch) -> str:
    return myinfo_tasks_to_own_queue(monkeypatch, "myinfo-test")


@pytest.fixture
def environment(worker_environment, portal_to_agency) -> dict[str, str]:
    return pointed_at(worker_environment, portal_to_agency)


@contextmanager
def worker(environment, queue, log_path, **options):
    name = f"{queue}-{log_path.stem}"
    with running_worker(environment, queues=(queue,), name=name, log_path=log_path, **options) as process:
        yield process


def pool_children(pid: int) -> list[int]:
    return [int(child) for child in open(f"/proc/{pid}/task/{pid}/children").read().split()]


@pytest.fixture
def misaki():
    person = PEOPLE["sato-misaki"]
    return ResidentFactory(
        my_number=person["my_number"],
        name=person["name"],
        name_kana=person["name_kana"],
        birth_date=dt.date.fromisoformat(person["birth_date"]),
    )


def _entry(resident, category) -> CategoryEntry:
    return CategoryEntry.objects.get(resident=resident, category=category)


def _state(resident, category) -> tuple[str, str]:
    entry = _entry(resident, category)
    return entry.state, entry.last_error_code


def _none_fetching(resident):
    return not CategoryEntry.objects.filter(resident=resident, state=EntryState.FETCHING).exists()


def test_a_refresh_brings_every_served_category(queue, environment, misaki, tmp_path):
    with worker(environment, queue, tmp_path / "worker.log") as process:
        assert myinfo_refresh_start(resident=misaki) == list(MYINFO_CATEGORIES)
        wait_until(lambda: _none_fetching(misaki), timeout=TIMEOUT, what="every category to end")
        assert process.poll() is None, (tmp_path / "worker.log").read_text()

    for category in SERVED:
        assert _state(misaki, category) == (EntryState.DONE, "")
    # The others end done as the simulator learns them; until then they say the agency does not serve them.
    for category in set(MYINFO_CATEGORIES) - set(SERVED):
        assert _state(misaki, category) in ((EntryState.DONE, ""), (EntryState.FAILED, FetchError.NOT_SERVED))
    household = myinfo_payload(resident=misaki, category="household")
    assert {m["name"] for m in household["members"]} == {"佐藤 美咲", "佐藤 陽翔"}
    allowance = myinfo_payload(resident=misaki, category="child_allowance")
    assert any(r["program"] == "児童扶養手当" for r in allowance["records"])
    cards = {c.category: c for c in myinfo_overview(resident=misaki, now=dt.datetime.now(dt.UTC))}
    assert cards["household"].state == CardState.DONE and cards["household"].as_of is not None


def test_an_agency_outage_fails_its_category_alone_and_recovers(
    queue, environment, misaki, portal_to_agency, tmp_path
):
    portal_to_agency.set_faults("municipal-child", outage=True, retry_after_s=1)
    try:
        with worker(environment, queue, tmp_path / "worker.log"):
            myinfo_refresh_start(resident=misaki, categories=SERVED)

            def outage_shown() -> bool:
                # Read together: a retry's back-off may be 0 s with jitter, and a retry that has begun
                # says "fetching" again, so a card read after the state was seen could already say that.
                cards = {c.category: c for c in myinfo_overview(resident=misaki, now=dt.datetime.now(dt.UTC))}
                return (
                    _state(misaki, "household") == (EntryState.DONE, "")
                    and _state(misaki, "child_allowance") == (EntryState.FAILED, FetchError.UNAVAILABLE)
                    and cards["child_allowance"].error_code == FetchError.UNAVAILABLE
                )

            wait_until(outage_shown, timeout=TIMEOUT, what="household to arrive and child allowance to fail")
            assert myinfo_payload(resident=misaki, category="child_allowance") is None

            portal_to_agency.clear_faults("municipal-child")
            # The task retries with back-off; once the agency is back, a retry brings the data.
            wait_until(
                lambda: _state(misaki, "child_allowance") == (EntryState.DONE, ""),
                timeout=TIMEOUT,
                what="a retry after the outage",
            )
    finally:
        portal_to_agency.clear_faults("municipal-child")

    entry = _entry(misaki, "child_allowance")
    assert entry.attempts >= 2 and entry.consecutive_failures == 0
    assert myinfo_payload(resident=misaki, category="child_allowance")["records"]


def test_a_killed_worker_s_fetch_is_redelivered_and_ends_once(
    queue, environment, misaki, portal_to_agency, tmp_path
):
    # The broker gives an unacknowledged task back after the visibility timeout; lowered for this test,
    # and the agency made slow enough (within the client's timeout) to kill the worker mid-fetch.
    environment = {
        **environment,
        "CELERY_VISIBILITY_TIMEOUT_SECONDS": str(VISIBILITY_SECONDS),
        "AGENCY_HTTP_TIMEOUT_SECONDS": "30",
    }
    portal_to_agency.set_faults("municipal-resident", latency_ms=10_000)
    try:
        with worker(environment, queue, tmp_path / "first.log") as first:
            myinfo_refresh_start(resident=misaki, categories=["household"])
            wait_until(
                lambda: _entry(misaki, "household").attempts == 1,
                timeout=TIMEOUT,
                what="the first worker to start the fetch",
            )
            started = time.monotonic()
            os.kill(first.pid, signal.SIGKILL)
            first.wait(timeout=10)
        assert _state(misaki, "household") == (EntryState.FETCHING, "")
    finally:
        portal_to_agency.clear_faults("municipal-resident")

    # A worker gives back, when it starts, what waited longer than the visibility timeout.
    time.sleep(max(0.0, VISIBILITY_SECONDS + 1 - (time.monotonic() - started)))
    with worker(environment, queue, tmp_path / "second.log") as second:
        wait_until(
            lambda: _state(misaki, "household") == (EntryState.DONE, ""),
            timeout=TIMEOUT,
            what="the redelivered fetch to finish",
        )
        time.sleep(2)  # a second redelivery, if there were one, would show as a third attempt
        assert second.poll() is None, (tmp_path / "second.log").read_text()

    entry = _entry(misaki, "household")
    assert entry.attempts == 2
    assert CategoryEntry.objects.filter(resident=misaki, category="household").count() == 1
    assert {m["name"] for m in myinfo_payload(resident=misaki, category="household")["members"]} == {
        "佐藤 美咲",
        "佐藤 陽翔",
    }


def test_a_killed_pool_process_s_fetch_is_given_back_at_once_and_ends_once(
    queue, environment, misaki, portal_to_agency, tmp_path
):
    # The worker survives and its pool process dies (out of memory, say): acks_late with
    # reject_on_worker_lost puts the task back at once, where a task acknowledged on receipt is lost.
    environment = {**environment, "AGENCY_HTTP_TIMEOUT_SECONDS": "30"}
    portal_to_agency.set_faults("municipal-resident", latency_ms=10_000)
    log = tmp_path / "prefork.log"
    try:
        with worker(environment, queue, log, pool="prefork", concurrency=1) as process:
            myinfo_refresh_start(resident=misaki, categories=["household"])
            wait_until(lambda: _entry(misaki, "household").attempts == 1, timeout=TIMEOUT, what="the fetch")
            (child,) = pool_children(process.pid)
            os.kill(child, signal.SIGKILL)
            portal_to_agency.clear_faults("municipal-resident")
            wait_until(
                lambda: _state(misaki, "household") == (EntryState.DONE, ""),
                timeout=TIMEOUT,
                what="the given-back fetch to finish",
            )
            assert process.poll() is None, log.read_text()
    finally:
        portal_to_agency.clear_faults("municipal-resident")

    assert "WorkerLostError" in log.read_text() or "exited prematurely" in log.read_text()
    assert _entry(misaki, "household").attempts == 2
    assert CategoryEntry.objects.filter(resident=misaki, category="household").count() == 1


@pytest.fixture
def ichiro():
    """The demo's mis-link case: the health insurer's record for him carries another name and birth date."""
    person = PEOPLE["suzuki-ichiro"]
    return ResidentFactory(
        my_number=person["my_number"],
        name=person["name"],
        name_kana=person["name_kana"],
        birth_date=dt.date.fromisoformat(person["birth_date"]),
    )


def test_the_mislinked_record_is_quarantined_and_reported(queue, environment, ichiro, tmp_path):
    with worker(environment, queue, tmp_path / "worker.log"):
        myinfo_refresh_start(resident=ichiro, categories=["household", "health_insurance"])
        wait_until(lambda: _none_fetching(ichiro), timeout=TIMEOUT, what="both categories to end")

    assert _state(ichiro, "household") == (EntryState.DONE, "")  # his other agencies know him rightly
    assert _state(ichiro, "health_insurance") == (EntryState.QUARANTINED, FetchError.IDENTITY_MISMATCH)
    assert myinfo_payload(resident=ichiro, category="health_insurance") is None
    (quarantine,) = Quarantine.objects.filter(resident=ichiro)
    assert quarantine.agency_id == "health-insurer" and quarantine.mismatched == ["name", "birth_date"]
    assert SecurityEvent.objects.filter(resident=ichiro, kind="myinfo_identity_mismatch").count() == 1
    assert quarantine.report_id.startswith("MLR-") and quarantine.reported_at is not None
    assert quarantine.report_error == ""
