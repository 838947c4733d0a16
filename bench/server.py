"""The portal served as in production, by gunicorn (portal.wsgi) on a free local port, for the benchmarks.

It runs with this process's environment, so with bench.settings and the bench database; its log goes to
var/bench/bench-gunicorn.log, never to stdout, which carries only figures.
"""

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
from django.conf import settings

from bench.environment import REPO


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def gunicorn_start(port: int, workers: int, threads: int, log: Path) -> subprocess.Popen:
    options = f"--bind 127.0.0.1:{port} --workers {workers} --threads {threads}".split()
    command = [sys.executable, "-m", "gunicorn", "portal.wsgi:application", *options]
    with log.open("w") as output:
        return subprocess.Popen(command, cwd=REPO, env=os.environ, stdout=output, stderr=subprocess.STDOUT)


def gunicorn_wait(server: subprocess.Popen, base_url: str, log: Path, *, bench: str) -> None:
    for _ in range(120):
        if server.poll() is not None:
            sys.exit(f"{bench}: gunicorn exited ({server.returncode}); see {log}")
        try:
            if httpx.get(f"{base_url}/healthz", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.25)
    sys.exit(f"{bench}: gunicorn did not answer within 30 s; see {log}")


def gunicorn_stop(server: subprocess.Popen) -> None:
    server.send_signal(signal.SIGTERM)
    try:
        server.wait(timeout=30)
    except subprocess.TimeoutExpired:
        server.kill()
        server.wait()


@contextmanager
def gunicorn_serving(*, workers: int, threads: int, bench: str, port: int | None = None) -> Iterator[int]:
    """A running gunicorn for the duration of the block; yields its port (a free one unless given, e.g. when
    the environment must name the origin first) and always stops it."""
    port = port or free_port()
    log = Path(settings.VAR_DIR) / "bench-gunicorn.log"
    server = gunicorn_start(port, workers, threads, log)
    try:
        gunicorn_wait(server, f"http://127.0.0.1:{port}", log, bench=bench)
        yield port
    finally:
        gunicorn_stop(server)
