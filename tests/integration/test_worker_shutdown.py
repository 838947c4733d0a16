"""Ctrl-C on `make demo`: honcho sends SIGTERM to each process's group, a prefork worker's children
included, and SIGKILL to whatever is left 5 s later (honcho's KILL_WAIT).

The Celery workers, started as the Procfile starts them, must be gone by then with a clean exit, and a
task they stop must come back rather than be lost. A worker that honcho kills loses the tasks it held with
the demo's file broker (a message taken from the folder lives only in the worker) and leaves them to the
visibility timeout with Redis. The 5 s is the deadline of a kill, not a speed figure
(docs/decisions/0009-workers-stop-within-honcho-s-grace.md).
"""

import datetime as dt
import re
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from django.conf import settings

from portal.celery import app as celery_app
from portal.identity.tasks import refresh_crl
from portal.myinfo.models import CategoryEntry, EntryState
from portal.myinfo.services import myinfo_refresh_start
from tests.conftest import PEOPLE
from tests.factories import ResidentFactory
from tests.integration.conftest import (
    myinfo_tasks_to_own_queue,
    pointed_at,
    running_as_procfile,
    stop_as_honcho,
    wait_until,
)

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

TIMEOUT = 60


@dataclass
class HoldingCrlServer:
    """The CA's CRL over HTTP, holding the first request (a refresh in flight) until released."""

    url: str = ""
    requests: int = 0
    first_arrived: threading.Event = field(default_factory=threading.Event)
    release: threading.Event = field(default_factory=threading.Event)


@pytest.fixture
def crl_server(jpki_env) -> Iterator[HoldingCrlServer]:
    state = HoldingCrlServer()
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            with lock:
                state.requests += 1
                first = state.requests == 1
            if first:
                state.first_arrived.set()
                state.release.wait(timeout=TIMEOUT)
            try:
                self.send_response(200)
                self.send_header("Content-Type", "application/pkix-crl")
                self.end_headers()
                self.wfile.write(jpki_env.crl_der)
            except OSError:
                pass  # the stopped task's connection is gone

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.url = f"http://127.0.0.1:{server.server_address[1]}/ca/crl.der"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield state
    state.release.set()
    server.shutdown()


def _file_broker_environment(worker_environment: dict[str, str], var_dir: Path) -> dict[str, str]:
    """The demo's embedded defaults for the broker and cache (no REDIS_URL: the file broker under
    var_dir), on this run's database and with its keys."""
    environment = {name: value for name, value in worker_environment.items() if name != "REDIS_URL"}
    return {
        **environment,
        "PORTAL_VAR_DIR": str(var_dir),
        "SECRET_KEY": settings.SECRET_KEY,
        "FIELD_ENCRYPTION_KEYS": settings.FIELD_ENCRYPTION_KEYS,
        "LOOKUP_HASH_KEY": settings.LOOKUP_HASH_KEY,
    }


@contextmanager
def _file_broker(var_dir: Path):
    """A connection to the file broker of a worker whose PORTAL_VAR_DIR is var_dir, with the folders
    portal/settings.py gives it there."""
    folder = var_dir / "broker"
    options = {
        "data_folder_in": str(folder),
        "data_folder_out": str(folder),
        "processed_folder": str(folder / "processed"),
        "control_folder": str(folder / "control"),
        "store_processed": False,
    }
    with celery_app.connection_for_write("filesystem://", transport_options=options) as connection:
        yield connection


@pytest.mark.parametrize("broker", ["redis", "files"])
def test_the_default_worker_stops_in_honcho_s_grace_and_its_stopped_task_comes_back(
    broker, worker_environment, jpki_env, crl_server, tmp_path
):
    queue = f"shutdown-{uuid.uuid4().hex[:8]}"
    environment = {
        **worker_environment,
        "JPKI_TRUST_ANCHORS": str(jpki_env.ca_cert_path),
        "JPKI_CRL_URL": crl_server.url,
    }
    if broker == "files":
        environment = _file_broker_environment(environment, tmp_path / "var")

    def worker(log_name: str):
        return running_as_procfile(
            "worker", environment, log_path=tmp_path / log_name, queues=queue, hostname=f"{queue}@%h"
        )

    with worker("first.log") as first:
        if broker == "files":
            with _file_broker(tmp_path / "var") as connection:
                refresh_crl.apply_async(queue=queue, connection=connection)
        else:
            refresh_crl.apply_async(queue=queue)
        assert crl_server.first_arrived.wait(TIMEOUT), (tmp_path / "first.log").read_text()
        assert stop_as_honcho(first, log_path=tmp_path / "first.log") == 0
    assert crl_server.requests == 1
    crl_server.release.set()

    # The refresh was stopped, not finished: its message went back to the broker and runs again.
    def refreshed() -> bool:
        return bool(
            re.search(r"identity\.refresh_crl\[\S+\] succeeded", (tmp_path / "second.log").read_text())
        )

    with worker("second.log") as second:
        wait_until(refreshed, timeout=TIMEOUT, what="the refresh given back to run again")
        assert stop_as_honcho(second, log_path=tmp_path / "second.log") == 0
    assert crl_server.requests == 2


@pytest.fixture
def fetch_queue(monkeypatch) -> str:
    return myinfo_tasks_to_own_queue(monkeypatch, "shutdown-fetch")


def test_the_fetch_worker_stops_in_honcho_s_grace_and_leaves_a_slow_fetch_to_come_back(
    fetch_queue, worker_environment, portal_to_agency, tmp_path
):
    person = PEOPLE["sato-misaki"]
    misaki = ResidentFactory(
        my_number=person["my_number"],
        name=person["name"],
        name_kana=person["name_kana"],
        birth_date=dt.date.fromisoformat(person["birth_date"]),
    )
    # An agency slower than honcho's grace, within the client's timeout: the fetch is still running.
    environment = pointed_at(worker_environment, portal_to_agency, AGENCY_HTTP_TIMEOUT_SECONDS="30")

    def fetch_worker(log_name: str):
        return running_as_procfile(
            "fetch",
            environment,
            log_path=tmp_path / log_name,
            queues=fetch_queue,
            hostname=f"{fetch_queue}@%h",
        )

    def entry() -> CategoryEntry:
        return CategoryEntry.objects.get(resident=misaki, category="household")

    portal_to_agency.set_faults("municipal-resident", latency_ms=10_000)
    try:
        with fetch_worker("first.log") as first:
            myinfo_refresh_start(resident=misaki, categories=["household"])
            wait_until(lambda: entry().attempts == 1, timeout=TIMEOUT, what="the fetch to start")
            assert stop_as_honcho(first, log_path=tmp_path / "first.log") == 0
        assert (entry().state, entry().attempts) == (EntryState.FETCHING, 1)
    finally:
        portal_to_agency.clear_faults("municipal-resident")

    with fetch_worker("second.log") as second:
        wait_until(lambda: entry().state == EntryState.DONE, timeout=TIMEOUT, what="the fetch given back")
        assert stop_as_honcho(second, log_path=tmp_path / "second.log") == 0
    assert entry().attempts == 2
