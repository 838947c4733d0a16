"""A fake information provision network behind the portal's real agency client (httpx mock transport)."""

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from joserfc.jwk import ECKey

from portal.agencies.codes import agency_code
from portal.provision.services import PROVISION_AGENCY_ID
from tests.factories import ResidentFactory


def network_code(resident) -> str:
    return agency_code(my_number=resident.my_number, agency_id=PROVISION_AGENCY_ID)


def party(agency_id: str, name: str) -> dict[str, str]:
    return {"id": agency_id, "name_ja": name, "name_en": f"{agency_id} (en)"}


def provision_record(n: int, **changes: Any) -> dict[str, Any]:
    record = {
        "id": f"IPR-{n:016X}",
        "occurred_at": f"2025-08-{n % 28 + 1:02d}T10:00:00+09:00",
        "requester": party("municipal-child", "横浜市中区 子育て支援課"),
        "provider": party("municipal-tax", "横浜市中区 税務課"),
        "procedure_ja": "児童扶養手当の支給に関する事務（現況届の審査）",
        "procedure_en": "Child-rearing allowance: yearly status report",
        "legal_basis": "行政手続における特定の個人を識別するための番号の利用等に関する法律 別表第二 項番57",
        "items_ja": "地方税関係情報（所得・控除）",
        "items_en": "Local tax information (income and deductions)",
        "status": "provided",
    }
    record.update(changes)
    return record


def provision_answer(code: str, records: list[dict[str, Any]]) -> dict[str, Any]:
    return {"agency_code": code, "as_of": "2026-11-23T10:00:00+09:00", "records": records}


@dataclass
class FakeNetwork:
    """Answers the portal's requests: ``reply`` is (status, content type, body) or a function of it."""

    reply: tuple[int, str, bytes] | Callable[[httpx.Request], httpx.Response] = (
        503,
        "application/json",
        b"{}",
    )
    requests: list[httpx.Request] = field(default_factory=list)

    def answer_json(self, body: Any, *, status: int = 200, content_type: str = "application/json") -> None:
        self.reply = (status, content_type, json.dumps(body, ensure_ascii=False).encode())

    def handle(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if callable(self.reply):
            return self.reply(request)
        status, content_type, body = self.reply
        return httpx.Response(status, headers={"Content-Type": content_type}, content=body)


@pytest.fixture
def client_keys(settings, tmp_path):
    key = ECKey.generate_key("P-256", private=True)
    key_file, jwks_file = tmp_path / "client.pem", tmp_path / "client.jwks.json"
    key_file.write_bytes(key.as_pem(private=True))
    jwks_file.write_text(json.dumps({"keys": [{**key.as_dict(private=False), "kid": "test-key"}]}))
    settings.AGENCY_CLIENT_KEY_FILE = str(key_file)
    settings.AGENCY_CLIENT_JWKS_FILE = str(jwks_file)
    settings.AGENCY_BASE_URL = "http://network.test"


@pytest.fixture
def network(client_keys, monkeypatch) -> FakeNetwork:
    fake = FakeNetwork()

    fake_client = httpx.Client(transport=httpx.MockTransport(fake.handle))
    monkeypatch.setattr("portal.agencies.client._client", fake_client)
    return fake


@pytest.fixture
def resident(db):
    return ResidentFactory()


# The real simulator process and worker environment of tests/integration, for the worker test here.
from tests.integration.conftest import agency_simulator, portal_to_agency, worker_environment  # noqa: E402

__all__ = ["agency_simulator", "portal_to_agency", "worker_environment"]
