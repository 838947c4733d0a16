"""The demo's broker without a server: kombu's filesystem transport, made to let a stopping worker go soon.

It must never keep a stopping worker waiting: honcho kills a worker 5 s after SIGTERM, and a killed worker
loses what it took from the folder (a message lives only in the worker until acknowledged; one that exits
by itself writes the unfinished ones back).
"""

from typing import Any

from kombu.transport import filesystem

# A transport that polls, like this one, has Celery's blocking loop, which looks whether the worker was
# told to stop only between two waits for a message, and asks for waits of 2 s (each ending on a poll of
# 1 s): up to 3 s of honcho's 5 s grace went to noticing SIGTERM. Waits of this length instead, polled as
# often, cost a listing of the folder five times a second.
WAIT_SECONDS = 0.2


class FilesystemTransport(filesystem.Transport):
    def drain_events(self, connection: Any, timeout: float | None = None) -> Any:
        # Without a timeout the caller wants to block until a message comes, and gets that.
        if timeout is not None:
            timeout = min(timeout, WAIT_SECONDS)
        return super().drain_events(connection, timeout=timeout)
