"""Fake agencies behind the portal's real agency client (httpx mock transport), and answer builders."""

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from joserfc.jwk import ECKey

from portal.agencies.codes import agency_code
from portal.myinfo.services import agency_for_category
from tests.factories import ResidentFactory

Reply = tuple[int, str, bytes] | Callable[[httpx.Request], httpx.Response]

HOUSEHOLD_DATA = {
    "household_id": "H-900",
    "head": {"name": "試験 太郎", "name_kana": "シケン タロウ"},
    "address": "東京都千代田区霞が関一丁目1番1号",
    "member_count": 1,
    "members": [{"name": "試験 太郎", "birth_date": "1985-04-01", "relationship": "世帯主"}],
}

HOUSEHOLD_SCHEMA = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object",
    "additionalProperties": False,
    "required": ["household_id", "head", "address", "member_count", "members"],
    "properties": {
        "household_id": {"type": "string"},
        "head": {"$ref": "common.schema.json#/$defs/PersonRef"},
        "address": {"type": "string"},
        "member_count": {"type": "integer", "minimum": 1},
        "members": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["name", "birth_date", "relationship"],
                "properties": {
                    "name": {"type": "string"},
                    "birth_date": {"type": "string", "format": "date"},
                    "relationship": {"type": "string"},
                },
            },
        },
    },
}
COMMON_SCHEMA = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "$defs": {
        "PersonRef": {
            "type": "object",
            "required": ["name", "name_kana"],
            "properties": {"name": {"type": "string"}, "name_kana": {"type": "string"}},
        }
    },
}


def code_for(resident, category: str) -> str:
    return agency_code(my_number=resident.my_number, agency_id=agency_for_category(category).id)


def answer_for(
    resident, category: str, data: dict[str, Any] | None = None, /, **changes: Any
) -> dict[str, Any]:
    """A well-formed answer about the resident, as the agency serving the category would send it."""
    answer = {
        "agency_id": agency_for_category(category).id,
        "agency_code": code_for(resident, category),
        "category": category,
        "as_of": "2026-11-23T10:00:00+09:00",
        "subject": {
            "name": resident.name,
            "name_kana": resident.name_kana,
            "birth_date": resident.birth_date.isoformat(),
        },
        "data": data if data is not None else {"records": []},
    }
    answer.update(changes)
    return answer


def json_reply(
    body: Any, *, status: int = 200, content_type: str = "application/json"
) -> tuple[int, str, bytes]:
    return status, content_type, json.dumps(body, ensure_ascii=False).encode()


@dataclass
class FakeAgencies:
    """Answers the portal's agency requests, per category, and takes mis-link reports.

    ``replies[category]`` is (status, content type, body) or a function of the request; a category
    without one is answered 404 ``category_not_served``, as the simulator does.
    """

    replies: dict[str, Reply] = field(default_factory=dict)
    report_reply: Reply = field(
        default_factory=lambda: json_reply({"report_id": "MLR-0001", "status": "received"}, status=202)
    )
    requests: list[httpx.Request] = field(default_factory=list)

    def answer(self, category: str, body: Any, **options: Any) -> None:
        self.replies[category] = json_reply(body, **options)

    def fetches(self, category: str | None = None) -> list[httpx.Request]:
        return [
            r
            for r in self.requests
            if r.method == "GET"
            and (category is None or r.url.path.endswith(f"/self-information/{category}"))
        ]

    def reports(self) -> list[httpx.Request]:
        return [r for r in self.requests if r.method == "POST"]

    def handle(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if request.method == "POST" and request.url.path.endswith("/mislink-reports"):
            reply = self.report_reply
        else:
            category = request.url.path.rsplit("/", 1)[-1]
            reply = self.replies.get(category) or json_reply({"error": "category_not_served"}, status=404)
        if callable(reply):
            return reply(request)
        status, content_type, body = reply
        return httpx.Response(status, headers={"Content-Type": content_type}, content=body)


@pytest.fixture
def client_keys(settings, tmp_path):
    key = ECKey.generate_key("P-256", private=True)
    key_file, jwks_file = tmp_path / "client.pem", tmp_path / "client.jwks.json"
    key_file.write_bytes(key.as_pem(private=True))
    jwks_file.write_text(json.dumps({"keys": [{**key.as_dict(private=False), "kid": "test-key"}]}))
    settings.AGENCY_CLIENT_KEY_FILE = str(key_file)
    settings.AGENCY_CLIENT_JWKS_FILE = str(jwks_file)
    settings.AGENCY_BASE_URL = "http://agencies.test"


@pytest.fixture
def contracts(settings, tmp_path):
    """A contract directory of this test's own: household has a schema (with a reference), others none."""
    directory = tmp_path / "contracts"
    directory.mkdir()
    (directory / "household.schema.json").write_text(json.dumps(HOUSEHOLD_SCHEMA))
    (directory / "common.schema.json").write_text(json.dumps(COMMON_SCHEMA))
    settings.MYINFO_CONTRACTS_DIR = str(directory)
    return directory


@pytest.fixture
def agencies(client_keys, contracts, monkeypatch) -> FakeAgencies:
    fake = FakeAgencies()

    fake_client = httpx.Client(transport=httpx.MockTransport(fake.handle))
    monkeypatch.setattr("portal.agencies.client._client", fake_client)
    return fake


@pytest.fixture
def resident(db):
    return ResidentFactory()


@pytest.fixture
def no_report_task(monkeypatch) -> list[dict]:
    """Catches the queued retries of mis-link reports instead of sending them to the broker."""
    from portal.myinfo.tasks import report_mislink

    queued: list[dict] = []
    monkeypatch.setattr(report_mislink, "apply_async", lambda **options: queued.append(options))
    return queued


# The real simulator process and worker environment of tests/integration, for the worker tests here.
from tests.integration.conftest import agency_simulator, portal_to_agency, worker_environment  # noqa: E402

__all__ = ["agency_simulator", "portal_to_agency", "worker_environment"]
