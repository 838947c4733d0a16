"""Fixtures for the sample bank: its settings in tmp_path, a fake portal behind httpx.MockTransport and a
TestClient of the bank's app that talks only to that fake (and never waits: ``sleep`` is recorded)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from joserfc.jwk import KeySet

from simulators.bank import Settings, create_app
from simulators.bank.keys import bank_key

from .fake_portal import ISSUER, FakePortal, query_of


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(
        portal_url=ISSUER,
        public_url="http://bank.test",
        data_dir=tmp_path / "bank",
        key_file=tmp_path / "keys" / "sakura-bank.pem",
        jwks_file=tmp_path / "keys" / "sakura-bank.jwks.json",
        http_timeout=5.0,
    )


@pytest.fixture
def portal(settings: Settings) -> FakePortal:
    bank_key(settings)  # the portal registered the bank's public JWKS
    return FakePortal(client_jwks=KeySet.import_key_set(_read_json(settings.jwks_file)))


def _read_json(path: Path) -> dict:
    return json.loads(path.read_text())


@dataclass
class Sleeps:
    waits: list[float] = field(default_factory=list)

    async def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)


@pytest.fixture
def sleeps() -> Sleeps:
    return Sleeps()


@pytest.fixture
def bank(settings: Settings, portal: FakePortal, sleeps: Sleeps) -> Iterator[TestClient]:
    app = create_app(settings, portal_transport=portal.transport, sleep=sleeps)
    with TestClient(app, base_url="http://bank.test", follow_redirects=False) as client:
        yield client


def csrf_of(page: str) -> str:
    marker = 'name="csrf_token" value="'
    return page.split(marker, 1)[1].split('"', 1)[0]


def start(bank: TestClient) -> dict[str, str]:
    """Presses the start button; returns the query of the portal URL the browser is sent to."""
    token = csrf_of(bank.get("/").text)
    response = bank.post("/start", data={"csrf_token": token})
    assert response.status_code == 303, response.text
    return query_of(response.headers["location"])


def consent_and_return(bank: TestClient, portal: FakePortal, **overrides: str | None):
    """The resident consents on the portal; the browser comes back to the bank's callback."""
    sent = start(bank)
    query = {**portal.authorize(sent["request_uri"]), **overrides}
    return bank.get("/callback", params={k: v for k, v in query.items() if v is not None})
