"""Runs the bank in this process on a free port, for tests that need a real HTTP server (the portal's
end-to-end test sends a real browser to it and registers its redirect URI and callback URL).
"""

from __future__ import annotations

import dataclasses
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import uvicorn
from fastapi import FastAPI

from simulators.bank.config import Settings
from simulators.bank.web import create_app

START_SECONDS = 30


@dataclass(frozen=True)
class RunningBank:
    url: str
    settings: Settings  # with public_url = url, so redirect_uri and callback_url are the real ones
    app: FastAPI


@contextmanager
def running_bank(settings: Settings, *, host: str = "127.0.0.1", port: int = 0) -> Iterator[RunningBank]:
    """Serves ``create_app`` with ``settings`` on ``host:port`` (0: a free port) until the block ends."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    url = f"http://{host}:{sock.getsockname()[1]}"
    settings = dataclasses.replace(settings, public_url=url)
    app = create_app(settings)
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True, name="bank")
    thread.start()
    deadline = time.monotonic() + START_SECONDS
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            sock.close()
            raise RuntimeError("the sample bank did not start")
        time.sleep(0.01)  # waiting for another thread's server to listen
    try:
        yield RunningBank(url=url, settings=settings, app=app)
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()
