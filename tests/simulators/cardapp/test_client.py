"""Talking to the portal: the SSRF guard, malformed answers, an unreachable portal, refusals."""

from __future__ import annotations

import socket

import httpx
import pytest

from simulators.cardapp import (
    PortalClient,
    PortalRefused,
    PortalUnreachable,
    RequestError,
    SigningRequest,
    check_origin,
    origin_of,
)
from tests.simulators.cardapp.helpers import make_request

ALLOWED = ("http://127.0.0.1:8000", "http://localhost:8000")


@pytest.mark.parametrize(
    ("url", "origin"),
    [
        ("http://127.0.0.1:8000/signing/1/", "http://127.0.0.1:8000"),
        ("HTTP://LOCALHOST:8000/x", "http://localhost:8000"),
        ("https://portal.example:443/x", "https://portal.example"),
        ("http://[::1]:8000/", "http://[::1]:8000"),
        ("http://127.0.0.1:8000@evil.example/", None),  # userinfo trick
        ("file:///etc/passwd", None),
        ("http://127.0.0.1:99999/", None),
        ("not a url", None),
    ],
)
def test_origin_of(url: str, origin: str | None) -> None:
    assert origin_of(url) == origin


@pytest.mark.parametrize(
    "url",
    [
        "http://169.254.169.254/latest/meta-data/",
        "http://127.0.0.1:8001/agencies/",
        "https://127.0.0.1:8000/signing/1/",
        "http://127.0.0.1:8000@evil.example/signing/1/",
        "gopher://127.0.0.1:8000/",
    ],
)
def test_ssrf_guard_refuses_other_origins_without_contacting_them(url: str) -> None:
    calls: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        return httpx.Response(200, json={})

    client = PortalClient(ALLOWED, transport=httpx.MockTransport(handler))
    with pytest.raises(RequestError) as error:
        client.fetch_request(url)
    assert calls == []
    assert error.value.message["ja"] and error.value.message["en"]
    assert "not" in error.value.message["en"]


def test_allowed_origin_passes() -> None:
    assert check_origin("http://localhost:8000/signing/1/", ALLOWED) == "http://localhost:8000"


def _client(handler: object) -> PortalClient:
    return PortalClient(ALLOWED, transport=httpx.MockTransport(handler))  # type: ignore[arg-type]


def test_fetch_sends_accept_json_and_parses() -> None:
    seen: list[httpx.Request] = []
    body = make_request("http://127.0.0.1:8000/signing/1/response/")

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json=body)

    request = _client(handler).fetch_request("http://127.0.0.1:8000/signing/1/")
    assert isinstance(request, SigningRequest) and request.id == body["id"]
    assert seen[0].headers["accept"] == "application/json"


def test_response_url_on_another_origin_is_refused() -> None:
    body = make_request("http://localhost:8000/signing/1/response/")
    client = _client(lambda request: httpx.Response(200, json=body))
    with pytest.raises(RequestError, match="response URL"):
        client.fetch_request("http://127.0.0.1:8000/signing/1/")


@pytest.mark.parametrize("content", [b"<html>login</html>", b"[1, 2]", b"\xff\xfe", b'{"id": 1}'])
def test_malformed_request_json_gives_a_bilingual_error(content: bytes) -> None:
    client = _client(lambda request: httpx.Response(200, content=content))
    with pytest.raises(RequestError) as error:
        client.fetch_request("http://127.0.0.1:8000/signing/1/")
    assert error.value.message["ja"] and error.value.message["en"]


def test_redirects_are_not_followed() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        assert request.url.host == "127.0.0.1"
        return httpx.Response(302, headers={"Location": "http://169.254.169.254/"})

    with pytest.raises(RequestError, match="HTTP 302"):
        _client(handler).fetch_request("http://127.0.0.1:8000/signing/1/")


def test_portal_error_on_fetch_is_shown_as_the_portal_said() -> None:
    answer = {"error": "used", "message": {"ja": "この要求は使用済みです。", "en": "This request was used."}}
    client = _client(lambda request: httpx.Response(410, json=answer))
    with pytest.raises(PortalRefused) as error:
        client.fetch_request("http://127.0.0.1:8000/signing/1/")
    assert error.value.message == answer["message"] and error.value.status == 410


def test_unreachable_portal() -> None:
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    client = PortalClient((f"http://127.0.0.1:{port}",), timeout=2)
    with pytest.raises(PortalUnreachable) as error:
        client.fetch_request(f"http://127.0.0.1:{port}/signing/1/")
    assert "接続できませんでした" in error.value.message["ja"]
    assert "Could not reach the portal" in error.value.message["en"]


def test_post_signature_outcomes() -> None:
    request = SigningRequest.parse(make_request("http://127.0.0.1:8000/signing/1/response/"))
    message = {"ja": "証明書が失効しています。", "en": "The certificate is revoked."}
    posted: list[bytes] = []

    def refusing(req: httpx.Request) -> httpx.Response:
        posted.append(req.content)
        return httpx.Response(403, json={"error": "revoked", "message": message})

    with pytest.raises(PortalRefused) as refused:
        _client(refusing).post_signature(request, "a.b.c")
    assert refused.value.message == message and refused.value.error == "revoked"
    assert posted == [b'{"jws":"a.b.c"}']

    with pytest.raises(RequestError, match="HTTP 500"):
        _client(lambda req: httpx.Response(500, text="boom")).post_signature(request, "a.b.c")
    accepted = _client(lambda req: httpx.Response(200, json={"status": "accepted"}))
    assert accepted.post_signature(request, "a.b.c") == {"status": "accepted"}
