"""HTTP client for the agencies (the simulator in the demo): signed client assertions, timeouts,
size caps, and errors split into retryable and final. The only place the portal talks to an agency.

Error messages name the agency, the status or the fault, never a value from the answer (it may be
personal data about someone).
"""

import json
import os
import re
import threading
import time
import uuid
from functools import lru_cache
from pathlib import Path
from typing import Any

import httpx
from django.conf import settings
from joserfc import jwt
from joserfc.jwk import ECKey

ASSERTION_LIFETIME = 120
PORTAL_CLIENT_ID = "myna-portal"
# Of a refusal's body only this much is read (with a size cap): enough for {"error": ..., "message": ...}.
ERROR_BODY_BYTES = 4096
# The error code an agency puts in a refusal ({"error": "category_not_served"}): kept only in this form.
_AGENCY_ERROR_CODE = re.compile(r"[a-z][a-z0-9_]{0,63}")


class AgencyError(Exception):
    """An agency call that failed for good (4xx, malformed answer): retrying will not help.

    ``code`` says what kind of failure it was: ``refused`` (a 4xx), ``not_found`` (404), ``content_type``,
    ``malformed``, ``oversized`` (an answer over the caller's cap), or ``unavailable`` for the retryable
    subclass. ``status`` is the HTTP status when there was one; ``agency_error`` is the agency's own error
    code from a refusal's body (``category_not_served``, ``unknown_code``), when it sent a well-formed one.
    """

    code = "refused"

    def __init__(
        self, message: str, *, code: str | None = None, status: int | None = None, agency_error: str = ""
    ) -> None:
        super().__init__(message)
        if code is not None:
            self.code = code
        self.status = status
        self.agency_error = agency_error


class AgencyUnavailable(AgencyError):
    """A call that may succeed later: timeout, connection refused, 5xx, 429."""

    code = "unavailable"


# How a Celery task that calls an agency runs: safe to deliver again (the tasks check their state first),
# retried with exponential back-off and jitter only while the agency is unavailable, bounded in time.
AGENCY_CALL_TASK_OPTIONS = {
    "acks_late": True,
    "reject_on_worker_lost": True,
    "autoretry_for": (AgencyUnavailable,),
    "retry_backoff": 2,
    "retry_backoff_max": 120,
    "retry_jitter": True,
    "max_retries": 5,
    "soft_time_limit": 30,
    "time_limit": 45,
}


# One connection pool per process, shared by a worker's threads (httpx.Client is thread-safe): building a
# client per call loaded the CA bundle and opened a connection every time, 22 ms of CPU per fetch.
_client: httpx.Client | None = None
_client_lock = threading.Lock()


def http_client() -> httpx.Client:
    global _client
    if _client is None:
        with _client_lock:
            if _client is None:
                _client = httpx.Client(limits=httpx.Limits(max_connections=64, max_keepalive_connections=32))
    return _client


def _forget_client_after_fork() -> None:
    # A forked worker process must not share its parent's sockets.
    global _client
    _client = None


os.register_at_fork(after_in_child=_forget_client_after_fork)


@lru_cache(maxsize=4)
def _key_material(key_file: str, jwks_file: str, stamp: tuple[float, float]) -> tuple[ECKey, str]:
    key = ECKey.import_key(Path(key_file).read_bytes())
    kid = json.loads(Path(jwks_file).read_text())["keys"][0]["kid"]
    return key, kid


def _signing_material() -> tuple[ECKey, str]:
    """The client key and its id, read again only when a file changes (a key rotation)."""
    key_file, jwks_file = settings.AGENCY_CLIENT_KEY_FILE, settings.AGENCY_CLIENT_JWKS_FILE
    stamp = (Path(key_file).stat().st_mtime, Path(jwks_file).stat().st_mtime)
    return _key_material(key_file, jwks_file, stamp)


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
    key, kid = _signing_material()
    return jwt.encode({"alg": "ES256", "kid": kid}, claims, key)


def _url(agency_id: str, path: str) -> str:
    return f"{settings.AGENCY_BASE_URL}/agencies/{agency_id}/v1/{path.lstrip('/')}"


def _headers(agency_id: str) -> dict[str, str]:
    return {
        "Authorization": f"Bearer {client_assertion(agency_id=agency_id)}",
        "Accept": "application/json",
    }


def _agency_error_code(content: bytes) -> str:
    try:
        body = json.loads(content)
    except ValueError:
        return ""
    code = body.get("error") if isinstance(body, dict) else None
    return code if isinstance(code, str) and _AGENCY_ERROR_CODE.fullmatch(code) else ""


def _answer(
    agency_id: str, status: int, content_type: str, content: bytes, *, ok: tuple[int, ...]
) -> dict[str, Any]:
    """The JSON object of a good answer, or the matching error for any other."""
    if status >= 500 or status == 429:
        raise AgencyUnavailable(f"{agency_id}: HTTP {status}", status=status)
    if status not in ok:
        raise AgencyError(
            f"{agency_id}: HTTP {status}",
            code="not_found" if status == 404 else "refused",
            status=status,
            agency_error=_agency_error_code(content),
        )
    if not content_type.startswith("application/json"):
        raise AgencyError(f"{agency_id}: unexpected content type", code="content_type", status=status)
    try:
        body = json.loads(content)
    except (ValueError, RecursionError) as exc:  # UnicodeDecodeError is a ValueError; nesting is not
        raise AgencyError(f"{agency_id}: malformed JSON", code="malformed", status=status) from exc
    if not isinstance(body, dict):
        raise AgencyError(f"{agency_id}: answer is not an object", code="malformed", status=status)
    return body


def _too_large(agency_id: str, max_bytes: int) -> AgencyError:
    return AgencyError(f"{agency_id}: answer larger than {max_bytes} bytes", code="oversized")


def _get_capped(
    agency_id: str, url: str, headers: dict[str, str], timeout: float, max_bytes: int
) -> tuple[int, str, bytes]:
    """Reads at most ``max_bytes`` of the body: an agency cannot make the portal hold more than that."""
    with http_client().stream("GET", url, headers=headers, timeout=timeout) as response:
        status, content_type = response.status_code, response.headers.get("content-type", "")
        if status != 200:
            # A refusal is judged by its status; of its body only the start (the error code) is read.
            return status, content_type, _read_at_most(response, ERROR_BODY_BYTES)[0]
        declared = response.headers.get("content-length", "")
        if declared.isascii() and declared.isdigit() and int(declared) > max_bytes:
            raise _too_large(agency_id, max_bytes)
        content, complete = _read_at_most(response, max_bytes)
        if not complete:
            raise _too_large(agency_id, max_bytes)
        return status, content_type, content


def _read_at_most(response: httpx.Response, limit: int) -> tuple[bytes, bool]:
    """The body up to ``limit`` bytes, and whether that was all of it."""
    chunks, size = [], 0
    for chunk in response.iter_bytes():
        size += len(chunk)
        if size > limit:
            chunks.append(chunk[: limit - (size - len(chunk))])
            return b"".join(chunks), False
        chunks.append(chunk)
    return b"".join(chunks), True


def agency_get(
    *,
    agency_id: str,
    path: str,
    timeout: float | None = None,
    max_bytes: int | None = None,
    headers: dict[str, str] | None = None,
) -> dict[str, Any]:
    """GET ``/agencies/<agency_id>/v1/<path>``; with ``max_bytes``, an answer over that is ``oversized``.

    ``headers`` adds the agency-specific ones a request needs (a proxy's registration at the medical
    insurer); the assertion and ``Accept`` are always the client's own.
    """
    url, headers = _url(agency_id, path), {**(headers or {}), **_headers(agency_id)}
    timeout = timeout or settings.AGENCY_HTTP_TIMEOUT
    try:
        if max_bytes is None:
            response = http_client().get(url, headers=headers, timeout=timeout)
            status, content_type, content = (
                response.status_code,
                response.headers.get("content-type", ""),
                response.content,
            )
        else:
            status, content_type, content = _get_capped(agency_id, url, headers, timeout, max_bytes)
    except httpx.HTTPError as exc:
        raise AgencyUnavailable(f"{agency_id}: {type(exc).__name__}") from exc
    return _answer(agency_id, status, content_type, content, ok=(200,))


def agency_post(
    *,
    agency_id: str,
    path: str,
    body: dict[str, Any],
    idempotency_key: str,
    timeout: float | None = None,
) -> dict[str, Any]:
    """POST JSON to ``/agencies/<agency_id>/v1/<path>``; the agency answers 200, 201 or 202 with an object.

    ``idempotency_key`` goes in the ``Idempotency-Key`` header: the caller sends the same key every time
    it retries the same message, so an agency that received it once does not act on it twice.
    """
    headers = {**_headers(agency_id), "Idempotency-Key": idempotency_key}
    try:
        response = http_client().post(
            _url(agency_id, path),
            headers=headers,
            json=body,
            timeout=timeout or settings.AGENCY_HTTP_TIMEOUT,
        )
    except httpx.HTTPError as exc:
        raise AgencyUnavailable(f"{agency_id}: {type(exc).__name__}") from exc
    return _answer(
        agency_id,
        response.status_code,
        response.headers.get("content-type", ""),
        response.content,
        ok=(200, 201, 202),
    )
