"""Fixtures for the card app tests: a provisioned CA + card store, and a fake portal over real HTTP."""

from __future__ import annotations

import json
import shutil
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from simulators.cardapp import CardStore, Settings, init
from simulators.cardapp.config import REPO_ROOT
from tests.simulators.cardapp.helpers import make_request

# Three people cover the cases: an adult, a child without signature certificate, a revoked card.
PEOPLE_IDS = ("yamada-hanako", "sato-haruto", "takahashi-ken")


@pytest.fixture(scope="session")
def provisioned_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    base = tmp_path_factory.mktemp("cardapp-template")
    people = json.loads((REPO_ROOT / "demo" / "people.json").read_text("utf-8"))["people"]
    subset = [p for p in people if p["id"] in PEOPLE_IDS]
    (base / "people.json").write_text(json.dumps({"people": subset}, ensure_ascii=False), "utf-8")
    init(Settings(data_dir=base / "cards", ca_dir=base / "ca", people_file=base / "people.json"))
    return base


@pytest.fixture
def settings(provisioned_template: Path, tmp_path: Path, fake_portal: FakePortal) -> Settings:
    """A private copy of the provisioned state, so counters changed by one test never leak."""
    for name in ("cards", "ca"):
        shutil.copytree(provisioned_template / name, tmp_path / name)
    shutil.copy(provisioned_template / "people.json", tmp_path / "people.json")
    return Settings(
        data_dir=tmp_path / "cards",
        ca_dir=tmp_path / "ca",
        people_file=tmp_path / "people.json",
        allowed_origins=(fake_portal.origin,),
        http_timeout=5.0,
    )


@pytest.fixture
def store(settings: Settings) -> CardStore:
    return CardStore(settings.db_path)


@dataclass
class FakePortal:
    """Serves one signing request at /signing/1/ and records what is posted to /signing/1/response/."""

    origin: str
    request: dict[str, Any] = field(default_factory=dict)
    raw_request: bytes | None = None  # when set, served instead of ``request`` (malformed JSON tests)
    answer_status: int = 200
    answer: dict[str, Any] = field(default_factory=lambda: {"status": "accepted"})
    received: list[dict[str, Any]] = field(default_factory=list)
    gets: int = 0

    @property
    def request_url(self) -> str:
        return f"{self.origin}/signing/1/"

    @property
    def response_url(self) -> str:
        return f"{self.origin}/signing/1/response/"

    def set_request(self, **overrides: Any) -> dict[str, Any]:
        self.request = make_request(self.response_url, **overrides)
        return self.request


@pytest.fixture
def fake_portal() -> Iterator[FakePortal]:
    state: FakePortal

    class Handler(BaseHTTPRequestHandler):
        def _send(self, status: int, body: bytes) -> None:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self) -> None:
            if self.path != "/signing/1/" or self.headers.get("Accept") != "application/json":
                self._send(404, b'{"error": "not_found"}')
                return
            state.gets += 1
            body = state.raw_request if state.raw_request is not None else json.dumps(state.request).encode()
            self._send(200, body)

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", "0"))
            state.received.append(json.loads(self.rfile.read(length)))
            self._send(state.answer_status, json.dumps(state.answer, ensure_ascii=False).encode())

        def log_message(self, format: str, *args: Any) -> None:  # keep test output quiet
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state = FakePortal(origin=f"http://127.0.0.1:{server.server_address[1]}")
    state.set_request()
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    thread.start()
    yield state
    server.shutdown()
    server.server_close()
