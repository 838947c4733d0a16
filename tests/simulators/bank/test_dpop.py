"""DPoP proofs (RFC 9449) as the bank makes them, verified with joserfc, and the nonce retry."""

from __future__ import annotations

import base64
import hashlib
import json
import time

import httpx
import pytest
from joserfc import jwt
from joserfc.jwk import ECKey

from simulators.bank.dpop import DPoPAuth, access_token_hash, dpop_proof, htu_of, jwk_thumbprint, new_dpop_key


def _header(token: str) -> dict:
    part = token.split(".")[0]
    return json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))


def _verified(proof: str) -> tuple[dict, dict]:
    """Verifies the proof with the public key it carries, as a server does."""
    header = _header(proof)
    decoded = jwt.decode(proof, ECKey.import_key(header["jwk"]), algorithms=["ES256"])
    return decoded.header, decoded.claims


def test_proof_header_carries_the_public_key_only():
    key = new_dpop_key()

    header, _ = _verified(dpop_proof(key, method="POST", url="http://portal.test/oauth/token"))

    assert header["typ"] == "dpop+jwt"
    assert header["alg"] == "ES256"
    assert set(header["jwk"]) == {"kty", "crv", "x", "y"}
    assert header["jwk"]["kty"] == "EC" and header["jwk"]["crv"] == "P-256"
    assert ECKey.import_key(header["jwk"]).thumbprint() == jwk_thumbprint(key)


def test_proof_claims_name_the_request():
    key = new_dpop_key()
    before = int(time.time())

    _, claims = _verified(dpop_proof(key, method="post", url="http://portal.test/oauth/token"))

    assert claims["htm"] == "POST"
    assert claims["htu"] == "http://portal.test/oauth/token"
    assert before <= claims["iat"] <= int(time.time())
    assert len(claims["jti"]) >= 22
    assert "ath" not in claims and "nonce" not in claims


def test_every_proof_has_its_own_jti():
    key = new_dpop_key()
    jtis = {_verified(dpop_proof(key, method="GET", url="http://p.test/x"))[1]["jti"] for _ in range(20)}
    assert len(jtis) == 20


def test_ath_is_the_base64url_sha256_of_the_access_token():
    token = "Kz~8mXK1EalYznwH-LC-1fBAo.4Ljp~zsPE_NeO.gxU"
    expected = base64.urlsafe_b64encode(hashlib.sha256(token.encode()).digest()).rstrip(b"=").decode()

    _, claims = _verified(
        dpop_proof(new_dpop_key(), method="GET", url="http://p.test/api/v1/userinfo", access_token=token)
    )

    assert claims["ath"] == expected == access_token_hash(token)
    assert "=" not in claims["ath"]
    # RFC 9449 section 7.1's example
    assert access_token_hash(token) == "fUHyO2r2Z3DZ53EsNrWBb0xWXoaNy59IiKCAqksmQEo"


def test_nonce_is_included_when_given():
    _, claims = _verified(dpop_proof(new_dpop_key(), method="GET", url="http://p.test/", nonce="n-1"))
    assert claims["nonce"] == "n-1"


def test_a_proof_does_not_verify_with_another_key():
    proof = dpop_proof(new_dpop_key(), method="GET", url="http://p.test/")
    with pytest.raises(Exception):  # noqa: B017 - joserfc's BadSignatureError
        jwt.decode(proof, new_dpop_key(), algorithms=["ES256"])


@pytest.mark.parametrize(
    ("url", "htu"),
    [
        (
            "http://portal.test/api/v1/information/income_tax?x=1",
            "http://portal.test/api/v1/information/income_tax",
        ),
        ("http://portal.test/oauth/token#frag", "http://portal.test/oauth/token"),
        ("HTTP://Portal.TEST/Path", "http://portal.test/Path"),
        ("http://portal.test:80/a", "http://portal.test/a"),
        ("https://portal.test:443/a", "https://portal.test/a"),
        ("http://127.0.0.1:8000/oauth/token", "http://127.0.0.1:8000/oauth/token"),
        ("http://portal.test", "http://portal.test/"),
        ("http://[::1]:8000/a?b", "http://[::1]:8000/a"),
    ],
)
def test_htu_is_normalised_without_query_or_fragment(url: str, htu: str):
    assert htu_of(url) == htu
    _, claims = _verified(dpop_proof(new_dpop_key(), method="GET", url=url))
    assert claims["htu"] == htu


class _Server:
    """Answers ``use_dpop_nonce`` until a proof carries its nonce."""

    def __init__(self, *, status: int, always: bool = False) -> None:
        self.status = status
        self.always = always
        self.proofs: list[dict] = []
        self.assertions: list[str] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.proofs.append(_verified(request.headers["DPoP"])[1])
        self.assertions.append(request.headers.get("X-Assertion", ""))
        if self.always or self.proofs[-1].get("nonce") != "server-nonce":
            headers = {"DPoP-Nonce": "server-nonce"}
            if self.status == 401:
                headers["WWW-Authenticate"] = 'DPoP error="use_dpop_nonce"'
            return httpx.Response(self.status, json={"error": "use_dpop_nonce"}, headers=headers)
        return httpx.Response(200, json={"ok": True}, headers={"DPoP-Nonce": "next-nonce"})


class _CountingAuth(httpx.Auth):
    """Stands for authlib's client authentication: a new assertion each time it is applied."""

    def __init__(self) -> None:
        self.count = 0

    def auth_flow(self, request: httpx.Request):
        self.count += 1
        request.headers["X-Assertion"] = f"assertion-{self.count}"
        yield request


@pytest.mark.parametrize("status", [400, 401])
def test_use_dpop_nonce_is_answered_once_with_a_fresh_proof(status: int):
    server = _Server(status=status)
    nonces: dict[str, str] = {}
    auth = DPoPAuth(new_dpop_key(), access_token="tok" if status == 401 else None, nonces=nonces)

    with httpx.Client(transport=httpx.MockTransport(server)) as http:
        response = http.get("http://p.test/api", auth=auth)

    assert response.status_code == 200
    assert [p.get("nonce") for p in server.proofs] == [None, "server-nonce"]
    assert server.proofs[0]["jti"] != server.proofs[1]["jti"]
    assert nonces == {"http://p.test": "next-nonce"}  # the newest nonce is kept for the next call


def test_the_nonce_retry_happens_once_only():
    server = _Server(status=400, always=True)
    with httpx.Client(transport=httpx.MockTransport(server)) as http:
        response = http.post("http://p.test/token", auth=DPoPAuth(new_dpop_key()))
    assert response.status_code == 400
    assert len(server.proofs) == 2


def test_the_retry_reapplies_client_authentication():
    server = _Server(status=400)
    with httpx.Client(transport=httpx.MockTransport(server)) as http:
        http.post(
            "http://p.test/token", data={"a": "b"}, auth=DPoPAuth(new_dpop_key(), client_auth=_CountingAuth())
        )
    assert server.assertions == ["assertion-1", "assertion-2"]


def test_an_error_that_is_not_about_the_nonce_is_not_retried():
    calls = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        return httpx.Response(400, json={"error": "invalid_dpop_proof"}, headers={"DPoP-Nonce": "n"})

    with httpx.Client(transport=httpx.MockTransport(handler)) as http:
        response = http.post("http://p.test/token", auth=DPoPAuth(new_dpop_key()))
    assert response.status_code == 400 and len(calls) == 1


def test_resource_calls_send_the_dpop_authorization_scheme():
    seen = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={})

    with httpx.Client(transport=httpx.MockTransport(handler)) as http:
        http.get("http://p.test/api/v1/userinfo?x=1", auth=DPoPAuth(new_dpop_key(), access_token="abc"))

    assert seen[0].headers["Authorization"] == "DPoP abc"
    claims = _verified(seen[0].headers["DPoP"])[1]
    assert claims["htu"] == "http://p.test/api/v1/userinfo" and claims["ath"] == access_token_hash("abc")
