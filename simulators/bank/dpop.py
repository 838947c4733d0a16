"""DPoP proofs (RFC 9449) and an httpx ``Auth`` that attaches them.

A proof is a JWT signed (ES256) with the client's DPoP key, whose public half rides in the header, bound to
one request (``htm``, ``htu``) and, on resource calls, to the access token (``ath``). A server that wants
its own nonce in proofs answers ``use_dpop_nonce`` with a ``DPoP-Nonce`` header: the request is then sent
once more, with a fresh proof carrying it (and, at the token endpoint, a fresh client assertion).
The private key never leaves this process; a proof is never reused.
"""

from __future__ import annotations

import base64
import hashlib
import time
import uuid
from collections.abc import Generator
from urllib.parse import urlsplit, urlunsplit

import httpx
from joserfc import jwt
from joserfc.jwk import ECKey

PROOF_TYPE = "dpop+jwt"
PROOF_ALG = "ES256"
NONCE_ERROR = "use_dpop_nonce"
_DEFAULT_PORTS = {"http": 80, "https": 443}


def new_dpop_key() -> ECKey:
    return ECKey.generate_key("P-256", private=True)


def jwk_thumbprint(key: ECKey) -> str:
    """RFC 7638 thumbprint of the public key: the ``dpop_jkt`` that binds a code to this key."""
    return key.thumbprint()


def access_token_hash(access_token: str) -> str:
    """``ath``: base64url of the SHA-256 of the access token's ASCII, without padding."""
    digest = hashlib.sha256(access_token.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def htu_of(url: str) -> str:
    """The target URI as RFC 9449 wants it: no query or fragment; scheme and host in lower case, the
    default port dropped and an empty path made ``/`` (RFC 3986's syntax- and scheme-based normalisation)."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").lower()
    if ":" in host:  # an IPv6 literal keeps its brackets
        host = f"[{host}]"
    port = parts.port
    netloc = host if port is None or port == _DEFAULT_PORTS.get(scheme) else f"{host}:{port}"
    return urlunsplit((scheme, netloc, parts.path or "/", "", ""))


def dpop_proof(
    key: ECKey,
    *,
    method: str,
    url: str,
    access_token: str | None = None,
    nonce: str | None = None,
    now: int | None = None,
) -> str:
    """One fresh proof for one request."""
    public = key.as_dict(private=False)
    header = {
        "typ": PROOF_TYPE,
        "alg": PROOF_ALG,
        # Only the public members: no kid or other metadata that could tie proofs to anything else.
        "jwk": {name: public[name] for name in ("kty", "crv", "x", "y")},
    }
    claims: dict[str, object] = {
        "jti": uuid.uuid4().hex,
        "htm": method.upper(),
        "htu": htu_of(url),
        "iat": int(time.time() if now is None else now),
    }
    if access_token is not None:
        claims["ath"] = access_token_hash(access_token)
    if nonce is not None:
        claims["nonce"] = nonce
    return jwt.encode(header, claims, key, algorithms=[PROOF_ALG])


def _origin(url: httpx.URL) -> str:
    return f"{url.scheme}://{url.netloc.decode('ascii')}"


def _asks_for_nonce(response: httpx.Response) -> bool:
    if "DPoP-Nonce" not in response.headers:
        return False
    if response.status_code == 401:  # resource server: WWW-Authenticate: DPoP error="use_dpop_nonce"
        return NONCE_ERROR in response.headers.get("WWW-Authenticate", "")
    if response.status_code == 400:  # authorization server: {"error": "use_dpop_nonce"}
        try:
            body = response.json()
        except ValueError:
            return False
        return isinstance(body, dict) and body.get("error") == NONCE_ERROR
    return False


class DPoPAuth(httpx.Auth):
    """Signs each request with a DPoP proof; with ``access_token`` also sends ``Authorization: DPoP``.

    ``client_auth`` (authlib's ``OAuth2ClientAuth``, any one-step httpx ``Auth``) is applied first, again
    for the retry, so that the client assertion is as fresh as the proof. ``nonces`` (origin -> the last
    ``DPoP-Nonce`` it sent) may be shared between calls to the same server.
    """

    requires_request_body = True
    requires_response_body = True

    def __init__(
        self,
        key: ECKey,
        *,
        access_token: str | None = None,
        client_auth: httpx.Auth | None = None,
        nonces: dict[str, str] | None = None,
    ) -> None:
        self.key = key
        self.access_token = access_token
        self.client_auth = client_auth
        self.nonces = {} if nonces is None else nonces

    def _signed(self, request: httpx.Request) -> httpx.Request:
        if self.client_auth is not None:
            request = next(self.client_auth.auth_flow(request))
        request.headers["DPoP"] = dpop_proof(
            self.key,
            method=request.method,
            url=str(request.url),
            access_token=self.access_token,
            nonce=self.nonces.get(_origin(request.url)),
        )
        if self.access_token is not None:
            request.headers["Authorization"] = f"DPoP {self.access_token}"
        return request

    def _remember_nonce(self, request: httpx.Request, response: httpx.Response) -> None:
        if "DPoP-Nonce" in response.headers:
            self.nonces[_origin(request.url)] = response.headers["DPoP-Nonce"]

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        response = yield self._signed(request)
        self._remember_nonce(request, response)
        if _asks_for_nonce(response):
            retried = yield self._signed(request)
            self._remember_nonce(request, retried)
