"""Fixtures for the agency simulator: a throwaway EC P-256 client key and JWKS, an initialised store in
tmp_path and a TestClient (and one shared, read-only world for the category tests). Tests compute agency
codes from demo/people.json, which the simulator never stores.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from joserfc import jwt
from joserfc.jwk import ECKey

from simulators.agency.app import create_app
from simulators.agency.codes import agency_code
from simulators.agency.config import REPO_ROOT, Settings
from simulators.agency.seed import initialise

PEOPLE = json.loads((REPO_ROOT / "demo" / "people.json").read_text(encoding="utf-8"))["people"]
AGENCIES = json.loads((REPO_ROOT / "demo" / "agencies.json").read_text(encoding="utf-8"))["agencies"]
TODAY = date(2026, 11, 23)
KID = "portal-test-key-1"

AssertionMaker = Callable[..., str]


def person(person_id: str) -> dict[str, Any]:
    return next(p for p in PEOPLE if p["id"] == person_id)


def code_for(person_id: str, agency_id: str) -> str:
    agency = next(a for a in AGENCIES if a["id"] == agency_id)
    return agency_code(agency["code_secret"], person(person_id)["my_number"])


def write_jwks(path: Path, *keys: ECKey) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps({"keys": [k.as_dict(private=False) for k in keys]}), encoding="utf-8")
    tmp.replace(path)  # atomic, as a real key rotation would be


def sign(key: ECKey, claims: dict[str, Any], header: dict[str, Any] | None = None) -> str:
    return jwt.encode({"alg": "ES256", "kid": key.kid, **(header or {})}, claims, key)


@pytest.fixture
def client_key() -> ECKey:
    return ECKey.generate_key("P-256", parameters={"kid": KID, "use": "sig", "alg": "ES256"})


@pytest.fixture
def settings(tmp_path: Path, client_key: ECKey) -> Settings:
    jwks = tmp_path / "keys" / "agency-client.jwks.json"
    write_jwks(jwks, client_key)
    return Settings(data_dir=tmp_path / "agency", client_jwks_file=jwks)


@pytest.fixture
def initialised(settings: Settings) -> Settings:
    initialise(settings, today=TODAY)
    return settings


@pytest.fixture
def client(initialised: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(initialised)) as test_client:
        yield test_client


@pytest.fixture
def make_assertion(settings: Settings, client_key: ECKey) -> AssertionMaker:
    """Signs a valid assertion for an agency; keyword arguments override or (with None) drop claims."""

    def make(
        agency_id: str, *, key: ECKey | None = None, header: dict[str, Any] | None = None, **claims: Any
    ) -> str:
        now = int(time.time())
        body: dict[str, Any] = {
            "iss": "myna-portal",
            "sub": "myna-portal",
            "aud": settings.audience_for(agency_id),
            "iat": now,
            "exp": now + 120,
            "jti": uuid.uuid4().hex,
        }
        body.update(claims)
        body = {k: v for k, v in body.items() if v is not None}
        return sign(key or client_key, body, header)

    return make


@pytest.fixture
def auth(make_assertion: AssertionMaker) -> Callable[[str], dict[str, str]]:
    """Headers with a fresh valid assertion for the agency."""
    return lambda agency_id: {"Authorization": f"Bearer {make_assertion(agency_id)}"}


#: The agencies that know residents by agency code: all but the banks' account-name check, which serves no
#: category.
CODE_AGENCIES = [a for a in AGENCIES if a["categories"]]
#: Self-information category -> the agency that serves it (demo/agencies.json).
SERVED_BY: dict[str, str] = {
    c: a["id"] for a in AGENCIES for c in a["categories"] if c != "provision_records"
}
PERSON_IDS = [p["id"] for p in PEOPLE]

Fetch = Callable[[str, str], dict[str, Any]]


@dataclass(frozen=True)
class SharedWorld:
    """One initialised simulator for tests that only read (``init`` takes a moment; reads change nothing)."""

    settings: Settings
    client: TestClient
    key: ECKey

    def headers(self, agency_id: str) -> dict[str, str]:
        now = int(time.time())
        claims = {
            "iss": "myna-portal",
            "sub": "myna-portal",
            "aud": self.settings.audience_for(agency_id),
            "iat": now,
            "exp": now + 120,
            "jti": uuid.uuid4().hex,
        }
        return {"Authorization": f"Bearer {sign(self.key, claims)}"}

    def envelope(self, person_id: str, category: str) -> dict[str, Any]:
        agency_id = SERVED_BY[category]
        code = code_for(person_id, agency_id)
        url = f"/agencies/{agency_id}/v1/residents/{code}/self-information/{category}"
        response = self.client.get(url, headers=self.headers(agency_id))
        assert response.status_code == 200, response.text
        return response.json()


@pytest.fixture(scope="session")
def shared(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SharedWorld]:
    directory = tmp_path_factory.mktemp("agency-shared")
    key = ECKey.generate_key("P-256", parameters={"kid": KID, "use": "sig", "alg": "ES256"})
    jwks = directory / "keys" / "agency-client.jwks.json"
    write_jwks(jwks, key)
    settings = Settings(data_dir=directory / "agency", client_jwks_file=jwks)
    initialise(settings, today=TODAY)
    with TestClient(create_app(settings)) as client:
        yield SharedWorld(settings, client, key)


@pytest.fixture(scope="session")
def fetch(shared: SharedWorld) -> Fetch:
    """The ``data`` of a person's category, from the agency that serves it."""
    return lambda person_id, category: shared.envelope(person_id, category)["data"]
