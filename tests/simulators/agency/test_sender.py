"""The simulator as a notice sender: its own credentials, the status report it posts (a signed client
assertion, an Idempotency-Key, a form pre-filled from the resident's own information) and the webhook that
takes the portal's signed answers, visible through the control API."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from datetime import date

import httpx
import pytest
from fastapi.testclient import TestClient
from joserfc import jwt
from joserfc.jwk import KeySet
from jsonschema import Draft202012Validator

from simulators.agency import sender
from simulators.agency.__main__ import main
from simulators.agency.config import Settings

from .conftest import TODAY, code_for

WEBHOOK = "/agencies/municipal-child/webhooks/notice-responses"
CONTROL = "/_control/agencies/municipal-child/notice-responses"


def signed(secret: str, body: bytes, *, event_id: str = "evt-1", at: int | None = None) -> dict[str, str]:
    timestamp = str(int(time.time()) if at is None else at)
    digest = hmac.new(secret.encode(), f"{event_id}.{timestamp}.".encode() + body, hashlib.sha256).digest()
    return {
        "webhook-id": event_id,
        "webhook-timestamp": timestamp,
        "webhook-signature": "v1," + base64.b64encode(digest).decode(),
        "content-type": "application/json",
    }


def event(receipt: str = "R-1") -> bytes:
    return json.dumps(
        {
            "event_id": "evt-1",
            "type": "notice.response",
            "created_at": "2026-11-23T10:00:00+09:00",
            "notice": {"id": "n-1", "idempotency_key": "k"},
            "response": {"receipt_number": receipt, "answers": {"annual_income": 2171200}},
        }
    ).encode()


def test_credentials_are_made_once_and_only_public_keys_leave(settings: Settings):
    first = sender.sender_credentials(settings)
    second = sender.sender_credentials(settings)
    assert first.key.as_dict(private=True) == second.key.as_dict(private=True)
    assert first.webhook_secret == second.webhook_secret and len(first.webhook_secret) >= 32
    jwks = json.loads(first.jwks_file.read_text())
    assert [k["kid"] for k in jwks["keys"]] == [first.key.kid]
    assert not any(private in jwks["keys"][0] for private in ("d", "p", "q"))
    args = sender.register_arguments(settings)
    assert "--client-id=sim-municipal-child" in args and "--agency=municipal-child" in args
    assert f"--webhook-url={settings.public_url}{WEBHOOK}" in args


def test_status_report_is_signed_idempotent_and_prefilled_from_own_information(settings: Settings):
    seen: list[httpx.Request] = []

    def portal(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(201, json={"id": "00000000-0000-0000-0000-000000000001"})

    result = sender.send_status_report(
        settings,
        portal="http://portal.test",
        person_id="sato-misaki",
        today=TODAY,
        transport=httpx.MockTransport(portal),
    )
    assert result.status == 201
    (request,) = seen
    assert str(request.url) == "http://portal.test/api/agency/v1/notices"
    code = code_for("sato-misaki", "municipal-child")
    assert request.headers["Idempotency-Key"] == result.idempotency_key == f"status-report-2026-11-23-{code}"
    token = request.headers["Authorization"].removeprefix("Bearer ")
    creds = sender.sender_credentials(settings)
    keys = KeySet.import_key_set(json.loads(creds.jwks_file.read_text()))
    claims = jwt.decode(token, keys, algorithms=["ES256"]).claims
    assert claims["iss"] == claims["sub"] == "sim-municipal-child"
    assert claims["aud"] == "http://portal.test/api/agency/v1"
    assert 0 < claims["exp"] - claims["iat"] <= 300 and len(claims["jti"]) >= 8

    body = json.loads(request.content)
    assert body["recipient"] == {"type": "resident", "agency_code": code}
    assert body["category"] == "child" and body["title"]["ja"].startswith("児童扶養手当の現況届")
    assert body["deadline"] == "2026-12-14T23:59:59+09:00"  # a few weeks ahead of "today"
    action = body["action"]
    assert action["type"] == "form" and action["requires_signature"] is True
    Draft202012Validator.check_schema(action["schema"])
    assert {p["from"].split(".")[0] for p in action["prefill"]} == {
        "household",
        "income_tax",
        "child_allowance",
    }
    assert {p["field"] for p in action["prefill"]} == set(action["schema"]["properties"])


def test_prefill_paths_fit_the_demo_single_parents_own_information(initialised: Settings, client):
    """Every pre-filled field finds a value of the right shape in sato-misaki's records."""
    from simulators.agency.store import Store

    store = Store(initialised.db_path)
    schema = sender.STATUS_REPORT_SCHEMA
    agencies = {"household": "municipal-resident", "income_tax": "municipal-tax"}
    agencies["child_allowance"] = "municipal-child"
    for item in sender.STATUS_REPORT_PREFILL:
        category, *path = item["from"].split(".")
        data = store.payload(agencies[category], code_for("sato-misaki", agencies[category]), category)
        for part in path:
            data = data[int(part)] if part.isdigit() else data[part]
        node = {"$schema": schema["$schema"], **schema["properties"][item["field"]]}
        assert Draft202012Validator(node).is_valid(data), item


def test_webhook_takes_a_signed_answer_once_and_shows_it(settings: Settings, client: TestClient):
    secret = sender.sender_credentials(settings).webhook_secret
    body = event()
    first = client.post(WEBHOOK, content=body, headers=signed(secret, body))
    assert first.status_code == 200 and first.json() == {"received": True, "duplicate": False}
    again = client.post(WEBHOOK, content=body, headers=signed(secret, body))  # a retry: same webhook-id
    assert again.status_code == 200 and again.json()["duplicate"] is True
    listed = client.get(CONTROL, headers={"X-Control-Token": settings.control_token}).json()
    assert [r["event_id"] for r in listed["responses"]] == ["evt-1"]
    assert listed["responses"][0]["event"]["response"]["receipt_number"] == "R-1"
    client.delete(CONTROL, headers={"X-Control-Token": settings.control_token})
    assert client.get(CONTROL, headers={"X-Control-Token": settings.control_token}).json()["responses"] == []


@pytest.mark.parametrize(
    ("tamper", "status", "error"),
    [
        ("secret", 401, "invalid_webhook_signature"),
        ("body", 401, "invalid_webhook_signature"),
        ("old", 401, "stale_webhook"),
        ("headers", 400, "missing_webhook_headers"),
    ],
)
def test_webhook_refuses_unsigned_tampered_or_old_deliveries(
    settings: Settings, client: TestClient, tamper: str, status: int, error: str
):
    secret = sender.sender_credentials(settings).webhook_secret
    body = event()
    headers = signed("x" * 40 if tamper == "secret" else secret, body, at=1 if tamper == "old" else None)
    if tamper == "headers":
        headers.pop("webhook-signature")
    sent = event("R-forged") if tamper == "body" else body
    response = client.post(WEBHOOK, content=sent, headers=headers)
    assert response.status_code == status and response.json()["error"] == error
    assert client.get(CONTROL, headers={"X-Control-Token": settings.control_token}).json()["responses"] == []


def test_webhook_and_control_are_only_for_the_sending_agency(settings: Settings, client: TestClient):
    assert client.post("/agencies/municipal-tax/webhooks/notice-responses", content=b"{}").status_code == 404
    assert client.get(CONTROL).status_code == 401


def test_cli_prints_register_arguments_and_reports_a_refusal(
    settings: Settings, monkeypatch, capsys, tmp_path
):
    monkeypatch.setenv("AGENCY_SIM_DATA_DIR", str(tmp_path / "cli"))
    assert main(["sender-credentials", "--register-args"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "--client-id=sim-municipal-child" and len(lines) == 6
    assert main(["send-status-report", "--person", "nobody", "--portal", "http://127.0.0.1:9"]) == 1
    assert "no person 'nobody'" in capsys.readouterr().err


def test_deadline_follows_today():
    body = sender.status_report_notice("CODE", date(2027, 7, 20))
    assert body["deadline"] == "2027-08-10T23:59:59+09:00"
