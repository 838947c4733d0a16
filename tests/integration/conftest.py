"""Real processes for integration tests: a Celery worker on the real Redis broker and the test database."""

import json
import os
import secrets
import shlex
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import redis
from celery.app.routes import prepare
from django.conf import settings
from django.db import connection
from honcho.manager import KILL_WAIT
from joserfc.jwk import ECKey

from portal.celery import QUEUES
from portal.celery import app as celery_app

REPO = Path(__file__).resolve().parents[2]


def _database_url() -> str:
    db = connection.settings_dict
    host = db.get("HOST") or "127.0.0.1"
    port = db.get("PORT") or 5432
    return f"postgres://{db['USER']}@{host}:{port}/{db['NAME']}"


def wait_until(predicate, *, timeout: float, what: str, interval: float = 0.1):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


@pytest.fixture(scope="session")
def worker_environment(django_db_setup, django_db_blocker) -> dict[str, str]:
    """The environment a worker needs to share this test run's database, broker and cache."""
    if not settings.REDIS_URL or connection.vendor != "postgresql":
        pytest.fail("integration tests need PostgreSQL and Redis (DATABASE_URL and REDIS_URL); run make test")
    with django_db_blocker.unblock():
        url = _database_url()
    return {**os.environ, "DATABASE_URL": url, "PYTHONUNBUFFERED": "1"}


def pointed_at(environment: dict[str, str], simulator: "AgencySimulator", **extra: str) -> dict[str, str]:
    """A worker's environment that calls `simulator` as the agencies, with its client key."""
    return {
        **environment,
        "AGENCY_BASE_URL": simulator.url,
        "AGENCY_CLIENT_KEY": str(simulator.key_file),
        "AGENCY_CLIENT_JWKS": str(simulator.jwks_file),
        **extra,
    }


@contextmanager
def running_worker(
    environment: dict[str, str],
    *,
    queues: tuple[str, ...],
    name: str,
    log_path: Path,
    pool: str = "solo",
    concurrency: int = 1,
):
    """A real `celery worker` process on the given queues; stopped (and its log shown on failure) after."""
    with log_path.open("w") as log:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "portal",
                "worker",
                f"--pool={pool}",
                f"--concurrency={concurrency}",
                "--loglevel=INFO",
                f"--queues={','.join(queues)}",
                f"--hostname={name}-{os.getpid()}@%h",
                "--without-gossip",
                "--without-mingle",
            ],
            cwd=REPO,
            env=environment,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            yield process
        finally:
            process.terminate()
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()


def procfile_command(name: str, **options: str) -> tuple[dict[str, str], list[str]]:
    """The Procfile's command for process `name`: the variables its line sets and its arguments, with each
    `--option value` named replaced (a test's own queue and node name on the shared Redis)."""
    for line in (REPO / "Procfile").read_text().splitlines():
        if line.startswith(f"{name}:"):
            words = shlex.split(line.partition(":")[2])
            break
    else:
        raise AssertionError(f"the Procfile has no process {name!r}")
    variables = {}
    while "=" in words[0] and not words[0].startswith("-"):
        key, _, value = words.pop(0).partition("=")
        variables[key] = value
    for option, value in options.items():
        words[words.index(f"--{option}") + 1] = value
    return variables, words


@contextmanager
def running_as_procfile(name: str, environment: dict[str, str], *, log_path: Path, **options: str):
    """Process `name` started as honcho starts it: the Procfile's command in a process group of its own
    (honcho signals the group, so a prefork worker's children get its signals too). Yields it once it
    says it is ready (a file broker answers no ping); killed, group and all, if a test leaves it running.
    honcho runs the line through `sh -c`, which only passes the signals on: here the shell is left out
    so that the worker's own exit code is seen."""
    variables, command = procfile_command(name, **options)
    with log_path.open("w") as log:
        process = subprocess.Popen(
            command,
            cwd=REPO,
            env={**environment, **variables},
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        wait_until(
            lambda: process.poll() is not None or " ready." in log_path.read_text(),
            timeout=60,
            what=f"the Procfile's {name} to be ready",
        )
        if process.poll() is not None:
            pytest.fail(f"the Procfile's {name} exited at start:\n{log_path.read_text()}")
        yield process
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def stop_as_honcho(process: subprocess.Popen, *, log_path: Path) -> int:
    """What Ctrl-C on `make demo` does to a process: SIGTERM to its group, SIGKILL to the group after
    honcho's grace. Fails if the grace runs out; returns the exit code."""
    os.killpg(process.pid, signal.SIGTERM)
    try:
        return process.wait(timeout=KILL_WAIT)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
        pytest.fail(f"still running {KILL_WAIT} s after SIGTERM: honcho kills it\n{log_path.read_text()}")


@pytest.fixture(scope="module")
def celery_worker(worker_environment, tmp_path_factory) -> Iterator[subprocess.Popen]:
    """One real worker consuming every queue the portal declares, for one module only: alive for the rest
    of the session, it took tasks that later tests queued and ran them against tables being emptied."""
    log_path = tmp_path_factory.mktemp("celery") / "worker.log"
    with running_worker(worker_environment, queues=QUEUES, name="test-worker", log_path=log_path) as process:
        wait_until(
            lambda: process.poll() is not None or celery_app.control.ping(timeout=0.5),
            timeout=30,
            what="the Celery worker to answer a ping",
        )
        if process.poll() is not None:
            pytest.fail(f"the Celery worker exited at start:\n{log_path.read_text()}")
        yield process


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@dataclass(frozen=True)
class AgencySimulator:
    url: str
    control_token: str
    key_file: Path
    jwks_file: Path
    process: subprocess.Popen

    def set_faults(self, agency_id: str, **faults) -> None:
        response = httpx.put(
            f"{self.url}/_control/agencies/{agency_id}",
            json=faults,
            headers={"X-Control-Token": self.control_token},
            timeout=5,
        )
        response.raise_for_status()

    def clear_faults(self, agency_id: str) -> None:
        httpx.delete(
            f"{self.url}/_control/agencies/{agency_id}",
            headers={"X-Control-Token": self.control_token},
            timeout=5,
        ).raise_for_status()


@pytest.fixture(scope="session")
def agency_simulator(tmp_path_factory) -> Iterator[AgencySimulator]:
    """The agency simulator in its own process, trusting a client key made for this run."""
    directory = tmp_path_factory.mktemp("agency")
    key = ECKey.generate_key("P-256", private=True)
    key_file, jwks_file = directory / "client.pem", directory / "client.jwks.json"
    key_file.write_bytes(key.as_pem(private=True))
    public = {**key.as_dict(private=False), "kid": key.thumbprint(), "use": "sig", "alg": "ES256"}
    jwks_file.write_text(json.dumps({"keys": [public]}))
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    token = secrets.token_urlsafe(16)
    environment = {
        **os.environ,
        "AGENCY_SIM_DATA_DIR": str(directory / "data"),
        "AGENCY_SIM_CLIENT_JWKS": str(jwks_file),
        "AGENCY_SIM_PUBLIC_URL": url,
        "AGENCY_SIM_CONTROL_TOKEN": token,
    }
    log_path = directory / "agency.log"
    with log_path.open("w") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "simulators.agency", "serve", "--port", str(port)],
            cwd=REPO,
            env=environment,
            stdout=log,
            stderr=subprocess.STDOUT,
        )

        def healthy() -> bool:
            if process.poll() is not None:
                pytest.fail(f"the agency simulator exited at start:\n{log_path.read_text()}")
            try:
                return httpx.get(f"{url}/healthz", timeout=1).status_code == 200
            except httpx.HTTPError:
                return False

        try:
            wait_until(healthy, timeout=30, what="the agency simulator's /healthz")
            yield AgencySimulator(url, token, key_file, jwks_file, process)
        finally:
            process.terminate()
            process.wait(timeout=15)


@pytest.fixture
def portal_to_agency(settings, agency_simulator) -> AgencySimulator:
    """Points the portal's agency client at the simulator of this run."""
    settings.AGENCY_BASE_URL = agency_simulator.url
    settings.AGENCY_CLIENT_KEY_FILE = str(agency_simulator.key_file)
    settings.AGENCY_CLIENT_JWKS_FILE = str(agency_simulator.jwks_file)
    return agency_simulator


@dataclass
class RedisServer:
    """A `redis-server` of one test's own, on a free port, that the test may stop and start again.

    ``persistent``: an append-only file under the test's directory keeps the data across a restart (what
    production should run); without it a restart comes back empty, the queue and cache forgotten.
    """

    port: int
    directory: Path
    persistent: bool
    process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.process = subprocess.Popen(
            [
                "redis-server",
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--dir",
                str(self.directory),
                "--save",
                "",
                "--appendonly",
                "yes" if self.persistent else "no",
                "--appendfsync",
                "always",
                "--logfile",
                str(self.directory / "redis.log"),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.STDOUT,
        )
        wait_until(self.answers, timeout=30, what=f"redis-server on port {self.port} to answer")

    def stop(self) -> None:
        """SIGTERM, as a service manager stops it (an append-only file is flushed, nothing else saved)."""
        if self.process is not None:
            self.process.terminate()
            self.process.wait(timeout=30)
            self.process = None

    def answers(self) -> bool:
        if self.process is not None and self.process.poll() is not None:
            pytest.fail(f"redis-server exited:\n{(self.directory / 'redis.log').read_text()}")
        try:
            return redis.Redis(port=self.port, socket_connect_timeout=1).ping()
        except redis.exceptions.RedisError:
            return False


@contextmanager
def running_redis(directory: Path, *, persistent: bool) -> Iterator[RedisServer]:
    directory.mkdir(parents=True, exist_ok=True)
    server = RedisServer(port=free_port(), directory=directory, persistent=persistent)
    server.start()
    try:
        yield server
    finally:
        server.stop()


@contextmanager
def running_web(environment: dict[str, str], *, log_path: Path) -> Iterator[str]:
    """The portal's web process (gunicorn, as the Procfile runs it) on a free port; yields its URL."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    with log_path.open("w") as log:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "gunicorn",
                "portal.wsgi",
                "--bind",
                f"127.0.0.1:{port}",
                "--workers",
                "1",
                "--threads",
                "4",
            ],
            cwd=REPO,
            env=environment,
            stdout=log,
            stderr=subprocess.STDOUT,
        )

        def healthy() -> bool:
            if process.poll() is not None:
                pytest.fail(f"the web process exited at start:\n{log_path.read_text()}")
            try:
                return httpx.get(f"{url}/healthz", timeout=5).status_code == 200
            except httpx.HTTPError:
                return False

        try:
            # Django loads its URLs and middleware on the first request: slow on a busy machine.
            wait_until(healthy, timeout=90, what="the web process's /healthz")
            yield url
        finally:
            process.terminate()
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()


def myinfo_tasks_to_own_queue(monkeypatch, prefix: str) -> str:
    """Routes the test's myinfo tasks to a queue of its own (the fetch queue may have other workers)."""
    name = f"{prefix}-{uuid.uuid4().hex[:8]}"
    router = celery_app.amqp.router
    monkeypatch.setattr(router, "routes", [*prepare({"myinfo.*": {"queue": name}}), *router.routes])
    return name
