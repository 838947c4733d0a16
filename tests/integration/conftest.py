"""Real processes for integration tests: a Celery worker on the real Redis broker and the test database."""

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection

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


@contextmanager
def running_worker(environment: dict[str, str], *, queues: tuple[str, ...], name: str, log_path: Path):
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
                "--pool=solo",
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


@pytest.fixture(scope="session")
def celery_worker(worker_environment, tmp_path_factory) -> Iterator[subprocess.Popen]:
    """One real worker consuming every queue the portal declares, started once for the session."""
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
