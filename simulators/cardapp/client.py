"""Talking to the portal: fetch a signing request and post the signature back.

Only origins listed in ``CARDAPP_ALLOWED_ORIGINS`` are contacted (the request URL comes from a link or a
QR code, so without this guard the app could be made to call anything on the phone's network), redirects
are never followed, and the answer's size is capped.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import httpx

from simulators.cardapp.errors import PortalRefused, PortalUnreachable, RequestError
from simulators.cardapp.request import SigningRequest

MAX_BODY = 256 * 1024


def origin_of(url: str) -> str | None:
    """``scheme://host[:port]`` in lower case, with the default port left out; None if not http(s)."""
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError:
        return None
    if parts.scheme not in {"http", "https"} or not parts.hostname or parts.username or parts.password:
        return None
    default = 443 if parts.scheme == "https" else 80
    host = parts.hostname.lower()
    if ":" in host:
        host = f"[{host}]"
    return f"{parts.scheme}://{host}" + (f":{port}" if port and port != default else "")


def check_origin(url: str, allowed: Iterable[str]) -> str:
    """Return the origin of ``url`` if it is allowed; RequestError otherwise."""
    origin = origin_of(url)
    if origin is None:
        raise RequestError(
            "要求のURLが正しくありません（http または https のURLではありません）。",
            "The request URL is not a valid http(s) URL.",
        )
    if origin not in {a.lower().rstrip("/") for a in allowed}:
        raise RequestError(
            f"{origin} はこのアプリが接続を許可しているポータルではないため、接続しません。",
            f"{origin} is not a portal this app is allowed to contact, so it was not contacted.",
        )
    return origin


def _unreachable(exc: Exception) -> RequestError:
    return PortalUnreachable(
        "ポータルに接続できませんでした。時間をおいてやり直してください。",
        f"Could not reach the portal ({type(exc).__name__}). Try again later.",
    )


def _json_body(response: httpx.Response) -> Any:
    if len(response.content) > MAX_BODY:
        raise RequestError("ポータルの応答が大きすぎます。", "The portal's answer is too large.")
    try:
        return json.loads(response.content)
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise RequestError(
            "ポータルの応答がJSONではありません。", "The portal's answer is not JSON."
        ) from None


@dataclass
class PortalClient:
    allowed_origins: tuple[str, ...]
    timeout: float = 10.0
    transport: httpx.BaseTransport | None = None  # tests may inject httpx.MockTransport

    def _client(self) -> httpx.Client:
        return httpx.Client(timeout=self.timeout, follow_redirects=False, transport=self.transport)

    def fetch_request(self, request_url: str) -> SigningRequest:
        """GET the signing request as JSON and parse it; RequestError on any problem."""
        origin = check_origin(request_url, self.allowed_origins)
        try:
            with self._client() as client:
                response = client.get(request_url, headers={"Accept": "application/json"})
        except httpx.HTTPError as exc:
            raise _unreachable(exc) from exc
        if response.status_code != 200:
            body = _safe_json(response)
            if isinstance(body, dict) and isinstance(body.get("message"), dict):
                raise PortalRefused(response.status_code, str(body.get("error", "")), *_message(body))
            raise RequestError(
                f"ポータルから要求を取得できませんでした（HTTP {response.status_code}）。",
                f"Could not get the request from the portal (HTTP {response.status_code}).",
            )
        request = SigningRequest.parse(_json_body(response))
        # The answer must go back to the same portal the request came from.
        if origin_of(request.response_url) != origin:
            raise RequestError(
                "応答の送信先が要求元のポータルと異なるため、送信しません。",
                "The response URL is not on the portal the request came from; nothing will be sent there.",
            )
        return request

    def post_signature(self, request: SigningRequest, jws: str) -> dict[str, Any]:
        """POST ``{"jws": ...}``; returns the portal's JSON on 200, raises PortalRefused on 4xx."""
        check_origin(request.response_url, self.allowed_origins)
        try:
            with self._client() as client:
                response = client.post(request.response_url, json={"jws": jws})
        except httpx.HTTPError as exc:
            raise _unreachable(exc) from exc
        body = _safe_json(response)
        if response.status_code == 200 and isinstance(body, dict) and body.get("status") == "accepted":
            return body
        if 400 <= response.status_code < 500:
            ja, en = _message(body) if isinstance(body, dict) else ("", "")
            error = str(body.get("error", "")) if isinstance(body, dict) else ""
            raise PortalRefused(
                response.status_code,
                error,
                ja or f"ポータルが拒否しました（HTTP {response.status_code}）。",
                en or f"The portal refused (HTTP {response.status_code}).",
            )
        raise RequestError(
            f"ポータルが予期しない応答を返しました（HTTP {response.status_code}）。",
            f"The portal gave an unexpected answer (HTTP {response.status_code}).",
        )


def _safe_json(response: httpx.Response) -> Any:
    try:
        return _json_body(response)
    except RequestError:
        return None


def _message(body: dict[str, Any]) -> tuple[str, str]:
    message = body.get("message")
    if isinstance(message, dict):
        return str(message.get("ja", "")), str(message.get("en", ""))
    if isinstance(message, str):
        return message, message
    return "", ""
