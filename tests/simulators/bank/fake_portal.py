"""A small stand-in for the portal's consent API (docs/consent-api.md), behind ``httpx.MockTransport``.

It checks what a strict authorization and resource server would: the client assertion against the bank's
JWKS, the pushed request, PKCE, the code's single use, and every DPoP proof (signature, typ, jwk, htm,
htu, iat, jti, ath, the key the code and token are bound to, and the nonce when it asks for one). Tests
read what it received and set how it answers.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import ECKey, KeySet
from joserfc.jwt import JWTClaimsRegistry

ISSUER = "http://portal.test"
CLIENT_ID = "sakura-bank"
ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
INCOME = {
    "category": "income_tax",
    "as_of": "2026-11-23T09:00:00+09:00",
    "agency": "千代田区 税務課",
    "data": {
        "municipality": {"code": "131016", "name": "千代田区", "prefecture": "東京都"},
        "years": [
            {
                "fiscal_year": 2026,
                "fiscal_year_label": "令和8年度",
                "income_year": 2025,
                "status": "課税",
                "incomes": [{"kind": "給与所得", "revenue_yen": 5120000, "income_yen": 3556000}],
                "total_income_yen": 3556000,
            }
        ],
    },
}


def b64url_sha256(value: str) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(value.encode()).digest()).rstrip(b"=").decode()


class Refused(Exception):
    def __init__(self, status: int, error: str, **headers: str) -> None:
        super().__init__(error)
        self.status, self.error, self.headers = status, error, headers


@dataclass
class FakePortal:
    client_jwks: KeySet
    key: ECKey = field(
        default_factory=lambda: ECKey.generate_key("P-256", private=True, parameters={"kid": "portal-1"})
    )
    issuer: str = ISSUER
    # How it answers: tests change these.
    iss_parameter_supported: bool = True
    token_type: str = "DPoP"
    id_token_overrides: dict[str, Any] = field(default_factory=dict)
    id_token_key: ECKey | None = None  # sign ID tokens with another key (a forged token)
    demand_nonce: bool = False  # the token endpoint and resource server want a DPoP nonce
    pending_answers: int = 0  # 202s before the income is ready
    retry_after: str | None = "1"
    revoked: bool = False
    par_error: str | None = None
    unreachable: bool = False
    userinfo_sub: str | None = None
    periodic: bool = False  # a periodic consent: the token answer carries a refresh token
    # What it saw.
    pushed: dict[str, dict[str, str]] = field(default_factory=dict)
    codes: dict[str, dict[str, Any]] = field(default_factory=dict)
    tokens: dict[str, dict[str, Any]] = field(default_factory=dict)
    refresh_tokens: dict[str, dict[str, Any]] = field(default_factory=dict)
    assertion_jtis: list[str] = field(default_factory=list)
    proof_jtis: list[str] = field(default_factory=list)
    proofs: list[dict[str, Any]] = field(default_factory=list)
    requests: list[httpx.Request] = field(default_factory=list)
    nonce: str = field(default_factory=lambda: secrets.token_urlsafe(12))

    # -- the browser's part, which the tests play ------------------------------------------------

    def authorize(self, request_uri: str, *, sub: str = "pairwise-sub-1") -> dict[str, str]:
        """The resident consents: the query the portal sends the browser back with."""
        pushed = self.pushed[request_uri]
        code = secrets.token_urlsafe(16)
        self.codes[code] = {**pushed, "sub": sub, "used": False}
        return {"code": code, "state": pushed["state"], "iss": self.issuer}

    def consent_event(self, *, key: ECKey | None = None, **claims: Any) -> str:
        body = {
            "iss": self.issuer,
            "aud": CLIENT_ID,
            "event": "consent.ended",
            "consent": "c0a8f7e2-0000-4000-8000-000000000001",
            "sub": "pairwise-sub-1",
            "reason": "revoked",
            "ended_at": "2026-11-23T10:00:00+09:00",
            "iat": int(time.time()),
            "jti": secrets.token_hex(8),
            **claims,
        }
        signing = key or self.key
        return jwt.encode(
            {"alg": "ES256", "kid": signing.kid}, {k: v for k, v in body.items() if v is not None}, signing
        )

    @property
    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self.handle)

    # -- the server ----------------------------------------------------------------------------

    def handle(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if self.unreachable:
            raise httpx.ConnectError("portal down", request=request)
        routes = {
            ("GET", "/.well-known/openid-configuration"): self.discovery,
            ("GET", "/oauth/jwks"): lambda _: httpx.Response(200, json={"keys": [self.public_jwk()]}),
            ("POST", "/oauth/par"): self.par,
            ("POST", "/oauth/token"): self.token,
            ("GET", "/api/v1/information/income_tax"): self.income,
            ("GET", "/api/v1/userinfo"): self.userinfo,
        }
        route = routes.get((request.method, request.url.path))
        if route is None:
            return httpx.Response(404, json={"error": "not_found"})
        try:
            return route(request)
        except Refused as refusal:
            if request.url.path.startswith("/api/"):
                headers = {"WWW-Authenticate": f'DPoP error="{refusal.error}"', **refusal.headers}
                return httpx.Response(refusal.status, json={"error": refusal.error}, headers=headers)
            return httpx.Response(refusal.status, json={"error": refusal.error}, headers=refusal.headers)

    def public_jwk(self) -> dict[str, Any]:
        return {**self.key.as_dict(private=False), "kid": self.key.kid, "use": "sig", "alg": "ES256"}

    def discovery(self, _: httpx.Request) -> httpx.Response:
        return httpx.Response(
            200,
            json={
                "issuer": self.issuer,
                "authorization_endpoint": f"{self.issuer}/oauth/authorize",
                "pushed_authorization_request_endpoint": f"{self.issuer}/oauth/par",
                "require_pushed_authorization_requests": True,
                "token_endpoint": f"{self.issuer}/oauth/token",
                "jwks_uri": f"{self.issuer}/oauth/jwks",
                "userinfo_endpoint": f"{self.issuer}/api/v1/userinfo",
                "authorization_response_iss_parameter_supported": self.iss_parameter_supported,
                "dpop_signing_alg_values_supported": ["ES256"],
                "code_challenge_methods_supported": ["S256"],
            },
        )

    def _form(self, request: httpx.Request) -> dict[str, str]:
        if not request.headers.get("content-type", "").startswith("application/x-www-form-urlencoded"):
            raise Refused(400, "invalid_request")
        parsed = parse_qs(request.content.decode(), strict_parsing=True)
        if any(len(values) != 1 for values in parsed.values()):
            raise Refused(400, "invalid_request")
        return {name: values[0] for name, values in parsed.items()}

    def _client_authenticated(self, form: dict[str, str]) -> dict[str, Any]:
        if form.get("client_assertion_type") != ASSERTION_TYPE or "client_assertion" not in form:
            raise Refused(401, "invalid_client")
        try:
            token = jwt.decode(form["client_assertion"], self.client_jwks, algorithms=["ES256"])
            JWTClaimsRegistry(
                iss={"essential": True, "value": CLIENT_ID},
                sub={"essential": True, "value": CLIENT_ID},
                aud={"essential": True, "value": self.issuer},
                exp={"essential": True},
                iat={"essential": True},
                jti={"essential": True},
            ).validate(token.claims)
        except JoseError as error:
            raise Refused(401, "invalid_client") from error
        claims = token.claims
        if claims["exp"] - claims["iat"] > 300 or claims["jti"] in self.assertion_jtis:
            raise Refused(401, "invalid_client")
        self.assertion_jtis.append(claims["jti"])
        return {"header": token.header, "claims": claims}

    def _proof(self, request: httpx.Request, *, access_token: str | None = None) -> str:
        """Checks the DPoP proof of ``request``; returns the thumbprint of its key."""
        proof = request.headers.get("DPoP")
        if not proof or "," in proof:
            raise Refused(400 if access_token is None else 401, "invalid_dpop_proof")
        error = Refused(400 if access_token is None else 401, "invalid_dpop_proof")
        try:
            header = json.loads(base64.urlsafe_b64decode(proof.split(".")[0] + "=="))
            if header.get("typ") != "dpop+jwt" or header.get("alg") != "ES256" or "d" in header["jwk"]:
                raise error
            key = ECKey.import_key(header["jwk"])
            claims = jwt.decode(proof, key, algorithms=["ES256"]).claims
        except (JoseError, ValueError, KeyError, TypeError) as failure:
            raise error from failure
        url = request.url
        htu = f"{url.scheme}://{url.netloc.decode()}{url.path}"
        if (
            claims.get("htm") != request.method
            or claims.get("htu") != htu
            or abs(time.time() - claims.get("iat", 0)) > 60
            or not claims.get("jti")
            or claims["jti"] in self.proof_jtis
        ):
            raise error
        if access_token is not None and claims.get("ath") != b64url_sha256(access_token):
            raise error
        self.proof_jtis.append(claims["jti"])
        self.proofs.append({"header": header, "claims": claims})
        if self.demand_nonce and claims.get("nonce") != self.nonce:
            if access_token is None:
                raise Refused(400, "use_dpop_nonce", **{"DPoP-Nonce": self.nonce})
            raise Refused(401, "use_dpop_nonce", **{"DPoP-Nonce": self.nonce})
        return key.thumbprint()

    def par(self, request: httpx.Request) -> httpx.Response:
        form = self._form(request)
        self._client_authenticated(form)
        if self.par_error:
            raise Refused(400, self.par_error)
        required = ("response_type", "client_id", "redirect_uri", "scope", "purpose", "state", "nonce")
        if any(not form.get(name) for name in required) or form.get("code_challenge_method") != "S256":
            raise Refused(400, "invalid_request")
        request_uri = f"urn:ietf:params:oauth:request_uri:{secrets.token_urlsafe(12)}"
        self.pushed[request_uri] = form
        return httpx.Response(201, json={"request_uri": request_uri, "expires_in": 90})

    def token(self, request: httpx.Request) -> httpx.Response:
        form = self._form(request)
        self._client_authenticated(form)
        jkt = self._proof(request)
        if form.get("grant_type") == "refresh_token":
            return self._refreshed(form, jkt)
        if form.get("grant_type") != "authorization_code":
            raise Refused(400, "unsupported_grant_type")
        code = self.codes.get(form.get("code", ""))
        if code is None or code["used"]:
            raise Refused(400, "invalid_grant")
        code["used"] = True
        if form.get("redirect_uri") != code["redirect_uri"]:
            raise Refused(400, "invalid_grant")
        if b64url_sha256(form.get("code_verifier", "")) != code["code_challenge"]:
            raise Refused(400, "invalid_grant")
        if code.get("dpop_jkt") and code["dpop_jkt"] != jkt:
            raise Refused(400, "invalid_dpop_proof")
        now = int(time.time())
        id_claims = {
            "iss": self.issuer,
            "aud": CLIENT_ID,
            "sub": code["sub"],
            "nonce": code["nonce"],
            "iat": now,
            "exp": now + 300,
            "auth_time": now - 30,
            **self.id_token_overrides,
        }
        signing = self.id_token_key or self.key
        id_token = jwt.encode(
            {"alg": "ES256", "kid": self.key.kid},
            {k: v for k, v in id_claims.items() if v is not None},
            signing,
        )
        return self._token_answer(jkt, code["sub"], code["scope"], id_token=id_token)

    def _refreshed(self, form: dict[str, str], jkt: str) -> httpx.Response:
        grant = self.refresh_tokens.get(form.get("refresh_token", ""))
        if grant is None or self.revoked or grant["jkt"] != jkt:
            raise Refused(400, "invalid_grant")
        return self._token_answer(jkt, grant["sub"], grant["scope"])

    def _token_answer(self, jkt: str, sub: str, scope: str, *, id_token: str | None = None) -> httpx.Response:
        access_token = secrets.token_urlsafe(24)
        self.tokens[access_token] = {"jkt": jkt, "sub": sub}
        answer = {
            "access_token": access_token,
            "token_type": self.token_type,
            "expires_in": 600,
            "scope": scope,
        }
        if id_token is not None:
            answer["id_token"] = id_token
        if self.periodic:
            refresh_token = secrets.token_urlsafe(24)
            self.refresh_tokens[refresh_token] = {"jkt": jkt, "sub": sub, "scope": scope}
            answer["refresh_token"] = refresh_token
        return httpx.Response(200, json=answer, headers={"Cache-Control": "no-store"})

    def _token_of(self, request: httpx.Request) -> dict[str, Any]:
        scheme, _, access_token = request.headers.get("Authorization", "").partition(" ")
        if scheme != "DPoP" or access_token not in self.tokens:
            raise Refused(401, "invalid_token")
        jkt = self._proof(request, access_token=access_token)
        if self.revoked:
            raise Refused(401, "invalid_token")
        if jkt != self.tokens[access_token]["jkt"]:
            raise Refused(401, "invalid_dpop_proof")
        return self.tokens[access_token]

    def income(self, request: httpx.Request) -> httpx.Response:
        self._token_of(request)
        if self.pending_answers > 0:
            self.pending_answers -= 1
            headers = {"Retry-After": self.retry_after} if self.retry_after is not None else {}
            return httpx.Response(202, json={"status": "fetching"}, headers=headers)
        return httpx.Response(200, json=INCOME)

    def userinfo(self, request: httpx.Request) -> httpx.Response:
        token = self._token_of(request)
        return httpx.Response(
            200,
            json={
                "sub": self.userinfo_sub or token["sub"],
                "name": "山田 花子",
                "birthdate": "1985-04-12",
                "address": "東京都千代田区千代田1-1",
            },
        )


def query_of(location: str) -> dict[str, str]:
    return {name: values[0] for name, values in parse_qs(urlsplit(location).query).items()}
