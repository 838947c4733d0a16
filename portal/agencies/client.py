"""HTTP client for the agencies (the simulator in the demo): signed client assertions, timeouts,
and errors split into retryable and final. The only place the portal talks to an agency.
"""

import json
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
from django.conf import settings
from joserfc import jwt
from joserfc.jwk import ECKey

ASSERTION_LIFETIME = 120
PORTAL_CLIENT_ID = "myna-portal"


class AgencyError(Exception):
    """An agency call that failed for good (4xx, malformed answer): retrying will not help."""


class AgencyUnavailable(AgencyError):
    """A call that may succeed later: timeout, connection refused, 5xx, 429."""


def _signing_key() -> ECKey:
    return ECKey.import_key(Path(settings.AGENCY_CLIENT_KEY_FILE).read_bytes())


def _key_id() -> str:
    jwks = json.loads(Path(settings.AGENCY_CLIENT_JWKS_FILE).read_text())
    return jwks["keys"][0]["kid"]


def client_assertion(*, agency_id: str) -> str:
    now = int(time.time())
    claims = {
        "iss": PORTAL_CLIENT_ID,
        "sub": PORTAL_CLIENT_ID,
        "aud": f"{settings.AGENCY_BASE_URL}/agencies/{agency_id}",
        "iat": now,
        "exp": now + ASSERTION_LIFETIME,
        "jti": uuid.uuid4().hex,
    }
    return jwt.encode({"alg": "ES256", "kid": _key_id()}, claims, _signing_key())


def agency_get(*, agency_id: str, path: str, timeout: float | None = None) -> dict[str, Any]:
    url = f"{settings.AGENCY_BASE_URL}/agencies/{agency_id}/v1/{path.lstrip('/')}"
    headers = {
        "Authorization": f"Bearer {client_assertion(agency_id=agency_id)}",
        "Accept": "application/json",
    }
    try:
        response = httpx.get(url, headers=headers, timeout=timeout or settings.AGENCY_HTTP_TIMEOUT)
    except httpx.HTTPError as exc:
        raise AgencyUnavailable(f"{agency_id}: {type(exc).__name__}") from exc
    if response.status_code >= 500 or response.status_code == 429:
        raise AgencyUnavailable(f"{agency_id}: HTTP {response.status_code}")
    if response.status_code != 200:
        raise AgencyError(f"{agency_id}: HTTP {response.status_code}")
    if not response.headers.get("content-type", "").startswith("application/json"):
        raise AgencyError(f"{agency_id}: unexpected content type")
    try:
        body = response.json()
    except ValueError as exc:
        raise AgencyError(f"{agency_id}: malformed JSON") from exc
    if not isinstance(body, dict):
        raise AgencyError(f"{agency_id}: answer is not an object")
    return body
