"""An agency client with its own keys, assertions as an agency would sign them, notices to send, and its
webhook (a real local HTTP server)."""

import base64
import datetime as dt
import json
import threading
import time
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from django.test import Client
from joserfc import jwt
from joserfc.jwk import ECKey

from notices.models import AgencyClient, Notice, WebhookDelivery
from portal.agencies.codes import agency_code
from tests.factories import ResidentFactory

AGENCY_ID = "municipal-child"
CLIENT_ID = "municipal-child-notices"
AUDIENCE = "http://testserver.example/api/agency/v1"
API = "/api/agency/v1"
WEBHOOK_SECRET = "whsec-test-0123456789abcdefghijklmnopqrstuvwxyz"
PDF = b"%PDF-1.7\n1 0 obj <</Type /Catalog>> endobj\ntrailer <</Root 1 0 R>>\n%%EOF\n"


@pytest.fixture(scope="session")
def agency_key() -> ECKey:
    return ECKey.generate_key("P-256", private=True)


@pytest.fixture(autouse=True)
def _agency_api(settings):
    settings.AGENCY_API_AUDIENCES = [AUDIENCE]


def public_jwks(key: Any, kid: str, alg: str) -> dict[str, Any]:
    return {"keys": [{**key.as_dict(private=False), "kid": kid, "alg": alg, "use": "sig"}]}


@pytest.fixture
def agency_client(db, agency_key) -> AgencyClient:
    return AgencyClient.objects.create(
        client_id=CLIENT_ID,
        agency_id=AGENCY_ID,
        name="子育て支援課 現況届システム",
        jwks=public_jwks(agency_key, "k1", "ES256"),
        webhook_url="",
        webhook_secret=WEBHOOK_SECRET,
    )


def assertion(key: Any, *, kid: str = "k1", alg: str = "ES256", **claims: Any) -> str:
    now = int(time.time())
    body = {
        "iss": CLIENT_ID,
        "sub": CLIENT_ID,
        "aud": AUDIENCE,
        "iat": now,
        "exp": now + 120,
        "jti": uuid.uuid4().hex,
    }
    body.update(claims)
    body = {k: v for k, v in body.items() if v is not None}
    return jwt.encode({"alg": alg, "kid": kid}, body, key)


class AgencyAPI:
    """The agency's side of the API, through the Django test client; a fresh assertion per call."""

    def __init__(self, key: Any) -> None:
        self.key = key
        self.http = Client()

    def headers(self, token: str | None = None) -> dict[str, str]:
        return {"HTTP_AUTHORIZATION": f"Bearer {token or assertion(self.key)}"}

    def post_notice(self, body: dict[str, Any], *, key: str | None = "key-1", token: str | None = None):
        extra = self.headers(token)
        if key is not None:
            extra["HTTP_IDEMPOTENCY_KEY"] = key
        return self.http.post(
            f"{API}/notices", data=json.dumps(body), content_type="application/json", **extra
        )

    def get(self, path: str, token: str | None = None):
        return self.http.get(f"{API}/{path.lstrip('/')}", **self.headers(token))


@pytest.fixture
def api(agency_client, agency_key) -> AgencyAPI:
    return AgencyAPI(agency_key)


def code_of(resident, agency_id: str = AGENCY_ID) -> str:
    return agency_code(my_number=resident.my_number, agency_id=agency_id)


def notice_body(recipient: dict[str, Any], **changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "recipient": recipient,
        "category": "child",
        "title": {
            "ja": "児童扶養手当の現況届のご案内",
            "en": "Child-rearing allowance: yearly status report",
        },
        "body": {
            "ja": "今年の**現況届**を提出してください。\n\n- 世帯の状況\n- 所得の状況\n\n"
            "[制度の説明](https://www.example.go.jp/jido)",
            "en": "Please send this year's **status report**.",
        },
        "deadline": (dt.datetime.now(dt.UTC) + dt.timedelta(days=30)).isoformat(),
    }
    body.update(changes)
    return body


def to_resident(resident) -> dict[str, Any]:
    return {"type": "resident", "agency_code": code_of(resident)}


def pdf_attachment(content: bytes = PDF, **changes: Any) -> dict[str, Any]:
    item = {
        "filename": "現況届の書き方.pdf",
        "content_type": "application/pdf",
        "content_base64": base64.b64encode(content).decode(),
    }
    item.update(changes)
    return item


STATUS_REPORT_SCHEMA = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object",
    "required": ["household_members", "annual_income", "living_with_child"],
    "properties": {
        "household_members": {
            "title": "世帯の方",
            "x-title-en": "Household members",
            "type": "array",
            "minItems": 1,
            "items": {
                "type": "object",
                "required": ["name"],
                "properties": {
                    "name": {"type": "string", "title": "氏名"},
                    "relationship": {"type": "string", "title": "続柄"},
                    "birth_date": {"type": "string", "title": "生年月日"},
                },
            },
        },
        "annual_income": {"title": "前年の所得（円）", "type": "integer", "minimum": 0},
        "living_with_child": {"title": "お子さんと同居している", "type": "boolean", "const": True},
        "note": {"title": "連絡事項", "type": "string", "maxLength": 400},
    },
}
STATUS_REPORT_PREFILL = [
    {"field": "household_members", "from": "household.members"},
    {"field": "annual_income", "from": "income_tax.years.0.total_income_yen"},
]


def form_action(*, requires_signature: bool = False, **changes: Any) -> dict[str, Any]:
    action = {
        "type": "form",
        "schema": STATUS_REPORT_SCHEMA,
        "prefill": STATUS_REPORT_PREFILL,
        "requires_signature": requires_signature,
    }
    action.update(changes)
    return action


@pytest.fixture
def resident(db):
    return ResidentFactory(address="神奈川県横浜市中区港町一丁目1番地", birth_date=dt.date(1990, 4, 12))


@pytest.fixture
def other_resident(db):
    return ResidentFactory(address="大阪府大阪市北区中之島一丁目3番20号", birth_date=dt.date(1942, 1, 20))


def logged_in(resident) -> Client:
    client = Client()
    client.force_login(resident.user, backend="portal.identity.backends.PortalBackend")
    return client


# --- the agency's webhook ------------------------------------------------------------------------------


class AgencyWebhook:
    """A local HTTP server standing for the agency: answers with the statuses queued, records requests."""

    def __init__(self) -> None:
        self.statuses: list[int] = []
        self.received: list[dict] = []
        webhook = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                webhook.received.append({"headers": dict(self.headers), "body": body})
                status = webhook.statuses.pop(0) if webhook.statuses else 200
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/portal-events"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def webhook(agency_client, settings) -> Iterator[AgencyWebhook]:
    server = AgencyWebhook()
    agency_client.webhook_url = server.url
    agency_client.save(update_fields=["webhook_url"])
    settings.NOTICE_WEBHOOK_MAX_ATTEMPTS = 3
    settings.NOTICE_WEBHOOK_TIMEOUT = 5
    yield server
    server.close()


@pytest.fixture
def answered(api, resident, webhook) -> WebhookDelivery:
    """An answer and its delivery, whose task never reached the broker (the test's transaction never
    commits, so nothing queued on commit is queued): to be sent by hand, or found lost by the sweep."""
    response = api.post_notice(notice_body(to_resident(resident), action={"type": "confirm"}))
    notice = Notice.objects.get(public_id=response.json()["id"])
    logged_in(resident).post(f"/notices/{notice.public_id}/respond/", {"confirmed": "on"})
    return WebhookDelivery.objects.get()
