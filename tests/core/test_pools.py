"""The fetch worker's thread pool (portal.core.pools): tasks run as in Celery's; a stopping worker waits
for a running one only so long, and the process does not wait for it at exit."""

import logging
import subprocess
import sys
import threading
from concurrent.futures import CancelledError

import pytest

from portal.celery import app as celery_app
from portal.core.pools import TaskThreads, ThreadPool
from tests.conftest import REPO


def test_task_threads_give_each_call_its_result_or_its_error():
    threads = TaskThreads(2)

    def fails():
        raise ValueError("refused")

    done = threads.submit(lambda a, b: a + b, 2, 3)
    failed = threads.submit(fails)
    assert done.result(timeout=10) == 5
    with pytest.raises(ValueError, match="refused"):
        failed.result(timeout=10)
    assert threads.stop(timeout=10) == 0


def test_stopping_cancels_calls_not_started_and_leaves_one_that_runs_on():
    threads = TaskThreads(1)
    started, release = threading.Event(), threading.Event()

    def runs_on():
        started.set()
        release.wait(timeout=30)

    running = threads.submit(runs_on)
    waiting = threads.submit(lambda: "never")
    assert started.wait(timeout=10)

    assert threads.stop(timeout=0.1) == 1
    with pytest.raises(CancelledError):
        waiting.result(timeout=0)
    assert not running.done()

    release.set()
    running.result(timeout=10)


def test_the_process_exits_without_waiting_for_a_call_left_running():
    # With a ThreadPoolExecutor the interpreter joins the thread at exit, and this would hang.
    program = (
        "import threading\n"
        "from portal.core.pools import TaskThreads\n"
        "threads = TaskThreads(1)\n"
        "threads.submit(threading.Event().wait)\n"
        "assert threads.stop(timeout=0.1) == 1\n"
    )
    finished = subprocess.run([sys.executable, "-c", program], cwd=REPO, timeout=60, capture_output=True)
    assert finished.returncode == 0, finished.stderr.decode()


def test_the_pool_runs_a_task_and_says_when_it_leaves_one_at_stop(caplog, monkeypatch):
    monkeypatch.setitem(celery_app.conf, "worker_soft_shutdown_timeout", 0.1)
    pool = ThreadPool(limit=1, app=celery_app)
    results, started, release = [], threading.Event(), threading.Event()

    def runs_on():
        started.set()
        release.wait(timeout=30)

    pool.apply_async(lambda: "fetched", callback=results.append)
    pool.apply_async(runs_on, callback=results.append)
    assert started.wait(timeout=10)

    caplog.set_level(logging.WARNING, logger="portal.core.pools")
    try:
        pool.stop()
    finally:
        release.set()

    assert results == ["fetched"]
    assert "1 task(s) still running are left" in caplog.text
