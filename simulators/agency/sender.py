"""The simulator as a notice SENDER: the municipal child support division (児童扶養手当 office) sends a
resident the yearly status report (現況届) through the portal's agency API and receives the answers
at its webhook.

The sending agency has its own credentials in ``<data dir>/senders/``: an EC P-256 key pair (the private JWK
stays here; the public JWKS is what the portal's staff register with ``manage.py agency_client_register``)
and the webhook secret shared with the portal. Both are made once, atomically, by whichever process needs
them first. This module must never import the Django portal and never stores a My Number: the resident is
named to the portal only by the agency's code for them, derived here from the demo files.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import secrets
import time
import uuid
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from joserfc import jwt
from joserfc.jwk import ECKey

from .codes import agency_code
from .config import Settings

SENDER_AGENCY = "municipal-child"
#: The portal-side client id of the simulated agency system (registered by staff under this id).
SENDER_CLIENT_IDS = {SENDER_AGENCY: "sim-municipal-child"}
SENDER_NAMES = {SENDER_AGENCY: "市区町村 子育て支援課（シミュレーター）"}
ASSERTION_LIFETIME_S = 120
#: Webhook timestamps further than this from now are refused (replays of old deliveries).
WEBHOOK_TOLERANCE_S = 300
#: The status report is due "a few weeks ahead of today" in the demo (in life: by 31 August).
DEADLINE_AFTER_DAYS = 21
JST_OFFSET = "+09:00"


@dataclass(frozen=True)
class SenderCredentials:
    agency_id: str
    client_id: str
    key: ECKey
    jwks_file: Path
    webhook_secret_file: Path

    @property
    def webhook_secret(self) -> str:
        return self.webhook_secret_file.read_text(encoding="utf-8").strip()


def _create_once(path: Path, content: str) -> None:
    """Writes ``path`` unless it exists; concurrent callers all end up reading the same single file."""
    if path.exists():
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
    tmp.write_text(content, encoding="utf-8")
    os.chmod(tmp, 0o600)
    try:
        os.link(tmp, path)  # atomic, and fails if another process won the race
    except FileExistsError:
        pass
    finally:
        tmp.unlink()


def sender_credentials(settings: Settings, agency_id: str = SENDER_AGENCY) -> SenderCredentials:
    """The sending agency's key, public JWKS file and webhook secret file, made on first use."""
    if agency_id not in SENDER_CLIENT_IDS:
        raise ValueError(f"the simulator sends notices only as {', '.join(SENDER_CLIENT_IDS)}")
    directory = settings.data_dir / "senders"
    key_file = directory / f"{agency_id}.key.json"
    fresh = ECKey.generate_key("P-256", private=True)
    kid = f"{agency_id}-{fresh.thumbprint()[:16]}"
    _create_once(key_file, json.dumps({**fresh.as_dict(private=True), "kid": kid}))
    key = ECKey.import_key(json.loads(key_file.read_text(encoding="utf-8")))
    public = {**key.as_dict(private=False), "kid": key.kid, "use": "sig", "alg": "ES256"}
    jwks_file = directory / f"{agency_id}.jwks.json"
    jwks_text = json.dumps({"keys": [public]}, indent=2) + "\n"
    if not jwks_file.exists() or jwks_file.read_text(encoding="utf-8") != jwks_text:
        tmp = jwks_file.with_suffix(".tmp")
        tmp.write_text(jwks_text, encoding="utf-8")
        tmp.replace(jwks_file)
    secret_file = directory / f"{agency_id}.webhook-secret"
    _create_once(secret_file, secrets.token_urlsafe(32) + "\n")
    return SenderCredentials(agency_id, SENDER_CLIENT_IDS[agency_id], key, jwks_file, secret_file)


def webhook_url(settings: Settings, agency_id: str = SENDER_AGENCY) -> str:
    return f"{settings.public_url.rstrip('/')}/agencies/{agency_id}/webhooks/notice-responses"


def register_arguments(settings: Settings, agency_id: str = SENDER_AGENCY) -> list[str]:
    """The arguments of the portal's ``manage.py agency_client_register`` for this sender."""
    creds = sender_credentials(settings, agency_id)
    return [
        f"--client-id={creds.client_id}",
        f"--agency={agency_id}",
        f"--name={SENDER_NAMES[agency_id]}",
        f"--jwks-file={creds.jwks_file}",
        f"--webhook-url={webhook_url(settings, agency_id)}",
        f"--webhook-secret-file={creds.webhook_secret_file}",
    ]


def client_assertion(creds: SenderCredentials, audience: str, now: float | None = None) -> str:
    """A fresh ES256 client assertion for one request to the portal's agency API."""
    issued = int(time.time() if now is None else now)
    claims = {
        "iss": creds.client_id,
        "sub": creds.client_id,
        "aud": audience,
        "iat": issued,
        "exp": issued + ASSERTION_LIFETIME_S,
        "jti": uuid.uuid4().hex,
    }
    return jwt.encode({"alg": "ES256", "kid": creds.key.kid, "typ": "JWT"}, claims, creds.key)


def resident_code(settings: Settings, person_id: str, agency_id: str = SENDER_AGENCY) -> str:
    """The agency's code for a demo person, from the demo files (the My Number is used only to derive it)."""
    people = json.loads(settings.people_file.read_text(encoding="utf-8"))["people"]
    agencies = json.loads(settings.agencies_file.read_text(encoding="utf-8"))["agencies"]
    person = next((p for p in people if p["id"] == person_id), None)
    if person is None:
        raise LookupError(f"no person '{person_id}' in {settings.people_file}")
    agency = next(a for a in agencies if a["id"] == agency_id)
    return agency_code(agency["code_secret"], person["my_number"])


STATUS_REPORT_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object",
    "required": ["household_members", "annual_income"],
    "properties": {
        "household_members": {
            "title": "世帯の状況（住民票の世帯員）",
            "x-title-en": "Household (members on the resident register)",
            "type": "array",
            "minItems": 1,
            "items": {
                "type": "object",
                "required": ["name", "relationship", "birth_date"],
                "properties": {
                    "name": {"type": "string"},
                    "relationship": {"type": "string"},
                    "birth_date": {"type": "string", "format": "date"},
                },
            },
        },
        "annual_income": {
            "title": "前年の所得（円）",
            "x-title-en": "Last year's income (yen)",
            "description": "住民税の課税情報から入力しています。",
            "type": "integer",
            "minimum": 0,
        },
        "current_allowance": {
            "title": "現在の児童扶養手当",
            "x-title-en": "Current child-rearing allowance",
            "type": "object",
            "required": ["program", "certificate_number"],
            "properties": {"program": {"const": "児童扶養手当"}, "certificate_number": {"type": "string"}},
        },
    },
}
STATUS_REPORT_PREFILL = [
    {"field": "household_members", "from": "household.members"},
    {"field": "annual_income", "from": "income_tax.years.0.total_income_yen"},
    {"field": "current_allowance", "from": "child_allowance.records.0"},
]
STATUS_REPORT_BODY_JA = """\
児童扶養手当を受けている方は、毎年**現況届**の提出が必要です（通常は8月1日から31日まで）。

今年は、あなたの情報（わたしの情報）から次の内容を入力しておきました。

- 世帯の状況（住民票の世帯員）
- 前年の所得（住民税の課税情報）
- 現在の手当の支給状況

内容に相違がなければ、確認欄にチェックを入れ、署名用電子証明書で署名して送信してください。提出がないと、11月分以降の手当を支給できません。"""
STATUS_REPORT_BODY_EN = """\
If you receive the child-rearing allowance, you must send the **status report** every year \
(usually 1 to 31 August).

We have filled it in from your own information:

- your household (members on the resident register)
- last year's income (from the resident tax records)
- the allowance you receive now

If it is all correct, tick the box, sign with your signature certificate and send. \
Without the report the allowance cannot be paid from November on."""


def status_report_notice(code: str, today: date) -> dict[str, Any]:
    """The notice body for the portal's ``POST /api/agency/v1/notices``."""
    deadline = today + timedelta(days=DEADLINE_AFTER_DAYS)
    return {
        "recipient": {"type": "resident", "agency_code": code},
        "category": "child",
        "title": {
            "ja": f"児童扶養手当の現況届（{today.year}年）",
            "en": f"Child-rearing allowance: status report ({today.year})",
        },
        "body": {"ja": STATUS_REPORT_BODY_JA, "en": STATUS_REPORT_BODY_EN},
        "deadline": f"{deadline.isoformat()}T23:59:59{JST_OFFSET}",
        "action": {
            "type": "form",
            "schema": STATUS_REPORT_SCHEMA,
            "prefill": STATUS_REPORT_PREFILL,
            "requires_signature": True,
        },
    }


@dataclass(frozen=True)
class SendResult:
    status: int
    body: Any
    idempotency_key: str


def send_status_report(
    settings: Settings,
    *,
    portal: str,
    person_id: str,
    today: date | None = None,
    audience: str | None = None,
    idempotency_key: str | None = None,
    transport: httpx.BaseTransport | None = None,
) -> SendResult:
    """Signs an assertion and posts the status report; the same day and person give the same key (and
    so the same notice on a repeat)."""
    today = today or datetime.now().date()
    creds = sender_credentials(settings)
    code = resident_code(settings, person_id)
    api = f"{portal.rstrip('/')}/api/agency/v1"
    key = idempotency_key or f"status-report-{today.isoformat()}-{code}"
    with httpx.Client(timeout=30, transport=transport) as http:
        response = http.post(
            f"{api}/notices",
            json=status_report_notice(code, today),
            headers={
                "Authorization": f"Bearer {client_assertion(creds, audience or api)}",
                "Idempotency-Key": key,
            },
        )
    try:
        body: Any = response.json()
    except ValueError:
        body = response.text
    return SendResult(response.status_code, body, key)


def lookup_account(
    settings: Settings,
    *,
    portal: str,
    person_id: str,
    purpose: str,
    audience: str | None = None,
    transport: httpx.BaseTransport | None = None,
) -> SendResult:
    """Asks the portal for a resident's public-fund account (公金受取口座) to pay them, as a paying agency
    does; the resident then reads this look-up, with the purpose, in their access history."""
    creds = sender_credentials(settings)
    code = resident_code(settings, person_id)
    api = f"{portal.rstrip('/')}/api/agency/v1"
    with httpx.Client(timeout=30, transport=transport) as http:
        response = http.post(
            f"{api}/public-fund-accounts/lookups",
            json={"agency_code": code, "purpose": purpose},
            headers={"Authorization": f"Bearer {client_assertion(creds, audience or api)}"},
        )
    try:
        body: Any = response.json()
    except ValueError:
        body = response.text
    return SendResult(response.status_code, body, "")


class WebhookRefused(Exception):
    def __init__(self, status: int, error: str, message: str) -> None:
        super().__init__(message)
        self.status, self.error, self.message = status, error, message


def webhook_verify(secret: str, headers: dict[str, str], body: bytes, now: float | None = None) -> None:
    """Checks a Standard Webhooks signature: ``v1,<base64 HMAC-SHA256(secret, "id.timestamp.body")>``
    (several may be sent, space-separated, during a secret rotation), and a timestamp close to now."""
    event_id = headers.get("webhook-id", "")
    timestamp = headers.get("webhook-timestamp", "")
    signatures = headers.get("webhook-signature", "")
    if not event_id or not timestamp or not signatures:
        raise WebhookRefused(400, "missing_webhook_headers", "Send webhook-id, -timestamp and -signature.")
    if not timestamp.isdigit():
        raise WebhookRefused(400, "invalid_webhook_timestamp", "webhook-timestamp must be Unix seconds.")
    if abs((time.time() if now is None else now) - int(timestamp)) > WEBHOOK_TOLERANCE_S:
        raise WebhookRefused(401, "stale_webhook", "The webhook timestamp is too far from now.")
    message = f"{event_id}.{timestamp}.".encode() + body
    expected = base64.b64encode(hmac.new(secret.encode(), message, hashlib.sha256).digest()).decode()
    for candidate in signatures.split():
        version, _, signature = candidate.partition(",")
        if version == "v1" and hmac.compare_digest(signature.encode(), expected.encode()):
            return
    raise WebhookRefused(401, "invalid_webhook_signature", "The webhook signature does not verify.")
