"""Redis hangs (its process stopped: it accepts connections and never answers) while residents use the portal.

The web process (gunicorn) and a worker use a Redis of the test's own, which the test stops with SIGSTOP
and wakes with SIGCONT. What the portal promises (docs/architecture.md, "Processes"): pages still answer,
within a few seconds rather than hanging, because every Redis client times out after about a second and
then holds off from that Redis for a few seconds; /readyz says not ready; /myinfo/ says fetching cannot
start, and a refresh asked for then ends "not started"; once Redis answers again, fetching works.

The bound on a page's time is a correctness bound (a page that waited on Redis would take the client's
whole timeout, or forever), not a benchmark.
"""

import os
import signal
import time
from collections.abc import Iterator
from contextlib import contextmanager

import httpx
import pytest

from portal.myinfo.models import EntryState, FetchError
from tests.integration.conftest import RedisServer, pointed_at, running_redis, wait_until
from tests.myinfo.test_broker_restart import (
    OUTAGE_EN,
    OUTAGE_JA,
    _state,
    misaki,  # noqa: F401 -- a fixture
    portal_on,
    refresh,
)

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

TIMEOUT = 60
#: A page may pay one Redis timeout (about a second) or two (a publish tried once more), never more.
PAGE_BOUND_SECONDS = 5
CATEGORY = "household"


@pytest.fixture
def environment(worker_environment, portal_to_agency) -> dict[str, str]:
    return pointed_at(worker_environment, portal_to_agency)


@contextmanager
def hung(broker: RedisServer) -> Iterator[None]:
    """Redis stopped as a debugger or a stuck host would: its port still accepts, nothing answers."""
    assert broker.process is not None
    os.kill(broker.process.pid, signal.SIGSTOP)
    try:
        yield
    finally:
        os.kill(broker.process.pid, signal.SIGCONT)


def timed_get(browser: httpx.Client, path: str, **options) -> httpx.Response:
    started = time.monotonic()
    response = browser.get(path, **options)
    elapsed = time.monotonic() - started
    assert elapsed < PAGE_BOUND_SECONDS, f"{path} took {elapsed:.1f} s while Redis hung"
    return response


def test_a_hung_redis_does_not_hang_pages_and_fetching_works_once_it_answers(
    environment,
    misaki,  # noqa: F811 -- the fixture imported above
    tmp_path,
):
    with (
        running_redis(tmp_path / "redis", persistent=False) as broker,
        portal_on(broker, environment, misaki, tmp_path) as browser,
    ):
        assert browser.get("/readyz").status_code == 200

        with hung(broker):
            ready = timed_get(browser, "/readyz")
            assert ready.status_code == 503
            assert ready.json()["status"] == "not ready"
            assert ready.json()["checks"]["cache"] == "unavailable"
            assert ready.json()["checks"]["broker"] == "unavailable"
            page = timed_get(browser, "/myinfo/")
            assert page.status_code == 200 and OUTAGE_JA in page.text
            english = timed_get(browser, "/myinfo/", headers={"Accept-Language": "en"})
            assert english.status_code == 200 and OUTAGE_EN in english.text
            assert timed_get(browser, "/myinfo/status.json").status_code == 200
            assert timed_get(browser, "/").status_code == 200
            # After the hold ends, the next page pays one timeout again, no more.
            time.sleep(6)
            assert timed_get(browser, "/myinfo/").status_code == 200
            # A refresh asked for now cannot be queued: it says so instead of spinning.
            started = time.monotonic()
            refresh(browser, CATEGORY)
            assert time.monotonic() - started < 2 * PAGE_BOUND_SECONDS  # two requests: the page, the form
            assert _state(misaki, CATEGORY) == (EntryState.FAILED, FetchError.NOT_STARTED)

        wait_until(lambda: browser.get("/readyz").status_code == 200, timeout=TIMEOUT, what="ready again")
        assert OUTAGE_JA not in browser.get("/myinfo/").text
        refresh(browser, CATEGORY)
        wait_until(
            lambda: _state(misaki, CATEGORY) == (EntryState.DONE, ""),
            timeout=TIMEOUT,
            what="the category asked for again to arrive",
        )
