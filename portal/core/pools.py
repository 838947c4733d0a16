"""The fetch worker's thread pool: Celery's, except that a stopping worker waits for a running task only
for the soft shutdown (CELERY_WORKER_SOFT_SHUTDOWN_TIMEOUT), not for as long as an agency takes.

A thread cannot be stopped from outside. A task still running then is left behind: its message, not
acknowledged (acks_late), goes back to the broker when the worker disconnects, as Celery does for the
task of a prefork child it cancels, and the process exits without waiting for the thread. The task's
state check makes the run that comes back do the work once (the abandoned run's transaction, if any, is
rolled back when the process's connection drops).
"""

import logging
import queue
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any

from celery.concurrency.base import BasePool, apply_target
from celery.concurrency.thread import ApplyResult

logger = logging.getLogger(__name__)


class TaskThreads:
    """A fixed number of daemon threads taking calls in turn, as a ThreadPoolExecutor's do, except that
    the interpreter does not wait at exit for one still running."""

    def __init__(self, count: int) -> None:
        self._calls: queue.SimpleQueue[tuple[Future, Callable[..., Any], tuple[Any, ...]] | None] = (
            queue.SimpleQueue()
        )
        self._threads = [
            threading.Thread(target=self._work, name=f"TaskThread-{n}", daemon=True)
            for n in range(1, count + 1)
        ]
        for thread in self._threads:
            thread.start()

    def submit(self, function: Callable[..., Any], *args: Any) -> Future:
        future: Future = Future()
        self._calls.put((future, function, args))
        return future

    def _work(self) -> None:
        while (call := self._calls.get()) is not None:
            future, function, args = call
            if not future.set_running_or_notify_cancel():
                continue
            try:
                future.set_result(function(*args))
            except BaseException as exc:
                future.set_exception(exc)

    def stop(self, *, timeout: float) -> int:
        """Cancels the calls not started and waits up to `timeout` seconds for those running; returns how
        many are still running (left to the process's end)."""
        while True:
            try:
                call = self._calls.get_nowait()
            except queue.Empty:
                break
            if call is not None:
                call[0].cancel()
        for _ in self._threads:
            self._calls.put(None)
        deadline = time.monotonic() + timeout
        for thread in self._threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        return sum(thread.is_alive() for thread in self._threads)


class ThreadPool(BasePool):
    """Selected with `--pool custom` and CELERY_CUSTOM_WORKER_POOL=portal.core.pools:ThreadPool (Procfile)."""

    body_can_be_buffer = True
    signal_safe = False

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.threads = TaskThreads(self.limit)

    def on_apply(
        self,
        target: Callable[..., Any],
        args: tuple[Any, ...] | None = None,
        kwargs: dict[str, Any] | None = None,
        callback: Callable[..., Any] | None = None,
        accept_callback: Callable[..., Any] | None = None,
        **_: Any,
    ) -> ApplyResult:
        return ApplyResult(self.threads.submit(apply_target, target, args, kwargs, callback, accept_callback))

    def on_stop(self) -> None:
        left = self.threads.stop(timeout=self.app.conf.worker_soft_shutdown_timeout)
        if left:
            logger.warning("%d task(s) still running are left; their messages go back to the broker", left)
        super().on_stop()

    def _get_info(self) -> dict[str, Any]:
        return {**super()._get_info(), "max-concurrency": self.limit, "threads": self.limit}
