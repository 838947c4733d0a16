"""Redis restarts in the middle of a refresh of "my information".

The web process (gunicorn) and a worker use a Redis of the test's own as broker and cache, so the
machine's shared one is never touched; the agencies are slowed so that fetches are in flight when Redis
stops. What the portal promises (docs/architecture.md, "My information"):

- while Redis is down, /readyz says not ready, /myinfo/ still answers and says that fetching cannot start,
  fetches already running finish into the database, and a refresh asked for then ends "not started";
- a Redis that keeps its data (append-only file) loses nothing: every category ends, fetched once;
- one that comes back empty has lost the queued fetches: the beat's sweep sends them again, every
  category still ends, fetched once, and asking again for the one that could not start works.
"""

import datetime as dt
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
import redis
from django.conf import settings
from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
from django.contrib.sessions.backends.db import SessionStore

from portal.celery import QUEUE_FETCH, QUEUES
from portal.celery import app as celery_app
from portal.myinfo.models import AWAITING_TASK, MYINFO_CATEGORIES, CategoryEntry, EntryState, FetchError
from portal.myinfo.services import agency_for_category
from tests.conftest import PEOPLE
from tests.factories import ResidentFactory
from tests.integration.conftest import (
    AgencySimulator,
    RedisServer,
    pointed_at,
    running_redis,
    running_web,
    running_worker,
    wait_until,
)

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

TIMEOUT = 60
# Fewer threads than categories, so that some fetches wait in the broker's queue when it stops.
THREADS = 4
# Long enough to stop Redis while the first fetches are under way; well within the client's timeout.
AGENCY_LATENCY_MS = 3000
OUTAGE_JA = "ただいまシステムの一部が停止しているため、情報を取り寄せられません。"
OUTAGE_EN = "Part of the system is down at the moment, so your information cannot be fetched."


@pytest.fixture
def misaki():
    person = PEOPLE["sato-misaki"]
    return ResidentFactory(
        my_number=person["my_number"],
        name=person["name"],
        name_kana=person["name_kana"],
        birth_date=dt.date.fromisoformat(person["birth_date"]),
    )


@pytest.fixture
def slow_agencies(portal_to_agency) -> Iterator[AgencySimulator]:
    agency_ids = {agency_for_category(c).id for c in MYINFO_CATEGORIES}
    try:
        for agency_id in agency_ids:
            portal_to_agency.set_faults(agency_id, latency_ms=AGENCY_LATENCY_MS)
        yield portal_to_agency
    finally:
        for agency_id in agency_ids:
            portal_to_agency.clear_faults(agency_id)


@pytest.fixture
def environment(worker_environment, slow_agencies) -> dict[str, str]:
    return pointed_at(worker_environment, slow_agencies, AGENCY_HTTP_TIMEOUT_SECONDS="30")


def logged_in_session(user) -> str:
    """A session as a card login leaves it, written to the database (the web process caches it itself)."""
    store = SessionStore()
    store[SESSION_KEY] = str(user.pk)
    store[BACKEND_SESSION_KEY] = "portal.identity.backends.PortalBackend"
    store[HASH_SESSION_KEY] = user.get_session_auth_hash()
    store.create()
    return store.session_key


@contextmanager
def portal_on(
    broker: RedisServer, environment: dict[str, str], resident, logs: Path, **variables: str
) -> Iterator[httpx.Client]:
    """A worker and the web process on this Redis; yields a browser logged in as the resident there.

    Their logs are printed when the test fails (pytest shows them with the failure).
    """
    environment = {**environment, "REDIS_URL": broker.url, **variables}
    cookies = {settings.SESSION_COOKIE_NAME: logged_in_session(resident.user)}
    try:
        with (
            running_worker(
                environment,
                queues=QUEUES,
                name="redis-restart",
                log_path=logs / "worker.log",
                pool="threads",
                concurrency=THREADS,
            ),
            running_web(environment, log_path=logs / "web.log") as url,
            httpx.Client(base_url=url, cookies=cookies, timeout=30) as browser,
        ):
            yield browser
    except BaseException:
        for name in ("worker.log", "web.log", "redis/redis.log"):
            if (logs / name).exists():
                tail = (logs / name).read_text().splitlines()[-100:]
                print(f"--- {name} (last 100 lines)", *tail, sep="\n")
        raise


def refresh(browser: httpx.Client, category: str | None = None) -> None:
    """Presses "すべて最新にする" (or one category's "もう一度取得する") on /myinfo/."""
    page = browser.get("/myinfo/")
    assert page.status_code == 200, page.text
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text)[1]
    form = {"csrfmiddlewaretoken": token, **({"category": category} if category else {})}
    response = browser.post("/myinfo/refresh/", data=form)
    assert response.status_code == 302, response.text


def beat_sends(broker: RedisServer, task_name: str) -> None:
    """What celery beat does on schedule: one message naming the task, on this Redis."""
    with celery_app.connection_for_write(broker.url) as connection:
        celery_app.send_task(task_name, connection=connection)


def entries(resident) -> dict[str, CategoryEntry]:
    return {e.category: e for e in CategoryEntry.objects.filter(resident=resident)}


def _state(resident, category) -> tuple[str, str]:
    entry = CategoryEntry.objects.get(resident=resident, category=category)
    return entry.state, entry.last_error_code


def stop_mid_refresh(broker: RedisServer, browser: httpx.Client, resident) -> None:
    """Starts a refresh of every category and stops Redis while the first fetches run."""
    refresh(browser)
    wait_until(
        lambda: CategoryEntry.objects.filter(resident=resident, attempts=1).count() >= THREADS,
        timeout=TIMEOUT,
        what="the worker to begin its first fetches",
    )
    broker.stop()


def fetches_in_flight_end(resident) -> set[str]:
    """Waits, Redis down, for the fetches under way to end (they need only the agency and the database);
    returns every category whose fetch began: nothing else can until the broker is back."""
    wait_until(
        lambda: (
            not CategoryEntry.objects.filter(
                resident=resident, state=EntryState.FETCHING, attempts__gte=1
            ).exists()
        ),
        timeout=TIMEOUT,
        what="the fetches in flight to end while Redis is down",
    )
    return {c for c, e in entries(resident).items() if e.attempts}


def assert_every_category_ended_fetched_once(resident) -> None:
    ended = entries(resident)
    assert set(ended) == set(MYINFO_CATEGORIES)  # one entry each, nothing duplicated
    for category, entry in ended.items():
        # Categories the simulator does not serve yet end "not served", as in test_fetch_with_worker.
        assert (entry.state, entry.last_error_code) in (
            (EntryState.DONE, ""),
            (EntryState.FAILED, FetchError.NOT_SERVED),
        ), category
        assert entry.attempts == 1, category  # neither a lost fetch twice nor a finished one again


def test_while_redis_restarts_empty_the_portal_says_so_and_the_sweep_sends_lost_fetches_again(
    environment, misaki, tmp_path
):
    # The sweep counts a fetch lost after this long without a sign of life (15 minutes in production).
    stall = {"LOST_TASK_STALL_SECONDS": "2"}
    with (
        running_redis(tmp_path / "redis", persistent=False) as broker,
        portal_on(broker, environment, misaki, tmp_path, **stall) as browser,
    ):
        stop_mid_refresh(broker, browser, misaki)

        # While Redis is down: not ready, and the page still answers, saying why nothing can be fetched.
        ready = browser.get("/readyz")
        assert ready.status_code == 503
        assert ready.json() == {
            "status": "not ready",
            "checks": {"database": "ok", "cache": "unavailable", "broker": "unavailable"},
        }
        page = browser.get("/myinfo/")
        assert page.status_code == 200 and OUTAGE_JA in page.text
        english = browser.get("/myinfo/", headers={"Accept-Language": "en"})
        assert english.status_code == 200 and OUTAGE_EN in english.text
        assert browser.get("/myinfo/status.json").status_code == 200
        begun = fetches_in_flight_end(misaki)
        queued = set(MYINFO_CATEGORIES) - begun
        assert begun and queued
        # A refresh asked for now cannot be queued: its card says so instead of spinning.
        asked_again = min(begun, key=MYINFO_CATEGORIES.index)
        refresh(browser, asked_again)
        assert _state(misaki, asked_again) == (EntryState.FAILED, FetchError.NOT_STARTED)

        broker.start()
        wait_until(lambda: browser.get("/readyz").status_code == 200, timeout=TIMEOUT, what="ready again")
        assert OUTAGE_JA not in browser.get("/myinfo/").text
        # Asking again works: the web process and the worker are both back on Redis.
        refresh(browser, asked_again)
        wait_until(
            lambda: _state(misaki, asked_again) == (EntryState.DONE, ""),
            timeout=TIMEOUT,
            what="the category asked for again to arrive",
        )
        # Redis came back empty: the fetches that waited in its queue are gone, not run.
        assert {c for c, e in entries(misaki).items() if e.state == EntryState.FETCHING} == queued
        assert all(entries(misaki)[c].attempts == 0 for c in queued)

        beat_sends(broker, "core.recover_lost_tasks")
        wait_until(
            lambda: not CategoryEntry.objects.filter(AWAITING_TASK, resident=misaki).exists(),
            timeout=TIMEOUT,
            what="the lost fetches, sent again, to end",
        )

    assert_every_category_ended_fetched_once(misaki)


def test_a_redis_that_keeps_its_data_across_a_restart_loses_no_fetch(environment, misaki, tmp_path):
    with (
        running_redis(tmp_path / "redis", persistent=True) as broker,
        portal_on(broker, environment, misaki, tmp_path) as browser,
    ):
        stop_mid_refresh(broker, browser, misaki)
        assert fetches_in_flight_end(misaki)
        broker.start()
        # No sweep: the queue outlived the restart, and the in-flight fetches' messages, given back
        # unacknowledged, find their requests ended and do nothing.
        wait_until(
            lambda: not CategoryEntry.objects.filter(AWAITING_TASK, resident=misaki).exists(),
            timeout=TIMEOUT,
            what="every queued fetch to run after the restart",
        )
        kept = redis.Redis(port=broker.port)
        wait_until(
            lambda: kept.llen(QUEUE_FETCH) == 0 and kept.hlen("unacked") == 0,
            timeout=TIMEOUT,
            what="the broker to hold nothing more to run (kombu's Redis transport keeps unacked here)",
        )

    assert_every_category_ended_fetched_once(misaki)
