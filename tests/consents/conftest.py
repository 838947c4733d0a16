"""A firm as the consent API sees it: its application approved, its keys, and the requests it makes.

`FirmAgent` makes what a real client makes (client assertions, DPoP proofs, PKCE) with its own keys, and
walks the flow through the Django test client; the demo residents log in with the test cards.
"""

import base64
import hashlib
import re
import secrets
import time
import uuid
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlparse

import pytest
from django.test import Client
from django.utils import timezone
from joserfc import jwt
from joserfc.jwk import ECKey

from portal.firms.models import AccessKind, ClientEnvironment, Firm, FirmClient, FirmPurpose, FirmState
from portal.identity.models import Resident
from tests.helpers import PASSWORD, card_answer, login_with_card

ISSUER = "http://localhost"
REDIRECT_URI = "https://bank.example/callback"


def b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


@dataclass
class FirmAgent:
    client_id: str
    key: ECKey
    dpop_key: ECKey = field(default_factory=lambda: ECKey.generate_key("P-256"))
    verifier: str = field(default_factory=lambda: secrets.token_urlsafe(48))
    state: str = field(default_factory=lambda: secrets.token_urlsafe(12))
    nonce: str = field(default_factory=lambda: secrets.token_urlsafe(12))

    @property
    def challenge(self) -> str:
        return b64url(hashlib.sha256(self.verifier.encode()).digest())

    def assertion(self, *, key: ECKey | None = None, aud: str = ISSUER, **claims: Any) -> str:
        now = int(time.time())
        body = {"iss": self.client_id, "sub": self.client_id, "aud": aud, "iat": now, "exp": now + 60}
        body["jti"] = str(uuid.uuid4())
        body.update(claims)
        signer = key or self.key
        return jwt.encode({"alg": "ES256", "kid": signer.kid}, body, signer)

    def auth(self, **kwargs: Any) -> dict[str, str]:
        return {
            "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
            "client_assertion": self.assertion(**kwargs),
        }

    def dpop(self, method: str, path: str, *, token: str | None = None, key: ECKey | None = None, **claims):
        signer = key or self.dpop_key
        body = {"jti": secrets.token_urlsafe(16), "htm": method, "htu": ISSUER + path}
        body["iat"] = int(time.time())
        if token is not None:
            body["ath"] = b64url(hashlib.sha256(token.encode()).digest())
        body.update(claims)
        header = {"alg": "ES256", "typ": "dpop+jwt", "jwk": signer.as_dict(private=False)}
        return jwt.encode(header, body, signer)

    def request_params(self, **overrides: Any) -> dict[str, str]:
        params = {
            "response_type": "code",
            "client_id": self.client_id,
            "redirect_uri": REDIRECT_URI,
            "scope": "openid name birth_date income_tax",
            "purpose": "mortgage-screening",
            "state": self.state,
            "nonce": self.nonce,
            "code_challenge": self.challenge,
            "code_challenge_method": "S256",
        }
        params.update(overrides)
        return {k: v for k, v in params.items() if v is not None}

    def push(self, http: Client, *, auth: dict[str, str] | None = None, **overrides: Any):
        return http.post("/oauth/par", {**self.request_params(**overrides), **(auth or self.auth())})

    def request_uri(self, http: Client, **overrides: Any) -> str:
        response = self.push(http, **overrides)
        assert response.status_code == 201, response.content
        return response.json()["request_uri"]

    def token(self, http: Client, data: dict[str, str], *, dpop: str | None = None, **auth: Any):
        proof = dpop if dpop is not None else self.dpop("POST", "/oauth/token")
        return http.post("/oauth/token", {**data, **self.auth(**auth)}, HTTP_DPOP=proof)

    def exchange(self, http: Client, issued_code: str, **overrides: Any):
        data = {"grant_type": "authorization_code", "code": issued_code, "redirect_uri": REDIRECT_URI}
        data["code_verifier"] = self.verifier
        data.update(overrides)
        return self.token(http, {k: v for k, v in data.items() if v is not None})

    def api(self, http: Client, path: str, token: str, *, dpop: str | None = None, scheme: str = "DPoP"):
        proof = dpop if dpop is not None else self.dpop("GET", path, token=token)
        return http.get(path, HTTP_AUTHORIZATION=f"{scheme} {token}", HTTP_DPOP=proof)


def firm_make(
    *,
    client_id: str = "sakura-bank",
    name: str = "株式会社さくら銀行",
    corporate_number: str = "7010001008844",
    scopes: tuple[str, ...] = ("name", "birth_date", "address", "income_tax"),
    access_kind: str = AccessKind.ONE_TIME,
    interval_days: int | None = None,
    access_days: int = 30,
    environment: str = ClientEnvironment.PRODUCTION,
    redirect_uri: str = REDIRECT_URI,
    callback_url: str = "",
    jwks: dict[str, Any] | None = None,
) -> FirmAgent:
    """An approved firm with one purpose and one client; its own new key unless `jwks` is given (a firm
    that signs elsewhere, such as the sample bank)."""
    key = ECKey.generate_key("P-256")
    key.ensure_kid()
    public = key.as_dict(private=False)
    public["kid"] = key.kid
    firm = Firm.objects.create(
        legal_name=name,
        legal_name_en="Sakura Bank, Ltd.",
        corporate_number=corporate_number,
        address="東京都千代田区丸の内一丁目1番1号",
        contact_name="審査 担当",
        contact_email="api@bank.example",
        privacy_policy_url="https://bank.example/privacy",
        retention_days=365,
        state=FirmState.APPROVED,
        production_allowed=True,
        reviewed_at=timezone.now(),
    )
    FirmPurpose.objects.create(
        firm=firm,
        code="mortgage-screening",
        description_ja="住宅ローンの事前審査",
        description_en="Mortgage pre-screening",
        scopes=list(scopes),
        access_kind=access_kind,
        interval_days=interval_days,
        access_days=access_days,
    )
    FirmClient.objects.create(
        firm=firm,
        client_id=client_id,
        environment=environment,
        redirect_uris=[redirect_uri],
        jwks=jwks or {"keys": [public]},
        callback_url=callback_url,
    )
    return FirmAgent(client_id=client_id, key=key)


@pytest.fixture(autouse=True)
def _issuer(settings):
    settings.OIDC_ISSUER = ISSUER


@pytest.fixture
def bank(db) -> FirmAgent:
    return firm_make()


@pytest.fixture
def hanako(client, trusted_jpki) -> Resident:
    login_with_card(client, trusted_jpki, "yamada-hanako")
    return Resident.objects.get(name="山田 花子")


def consent_and_code(client: Client, jpki, agent: FirmAgent, *, card: str = "yamada-hanako", **overrides):
    """The whole browser side: push, authorize, consent, sign with the card; returns the code."""
    request_uri = agent.request_uri(Client(), **overrides)
    page = client.get("/oauth/authorize", {"client_id": agent.client_id, "request_uri": request_uri})
    assert page.status_code == 200, page.content.decode()
    pushed_id = page.context["pushed"].pk
    signing = client.post(f"/oauth/authorize/{pushed_id}/decision", {"decision": "approve"})
    assert signing.status_code == 302 and signing["Location"].startswith("/stepup/"), signing
    request_id = re.fullmatch(r"/stepup/([0-9a-f-]+)/", signing["Location"]).group(1)
    assert card_answer(client, jpki, request_id, card, PASSWORD).status_code == 200
    back = client.post(f"/oauth/authorize/{pushed_id}/decision?stepup={request_id}")
    assert back.status_code == 200, back
    return_url = back.context["return_url"]
    assert f'content="0;url={return_url}"' in back.content.decode().replace("&amp;", "&")
    query = parse_qs(urlparse(return_url).query)
    assert return_url.startswith(REDIRECT_URI) and query["state"] == [agent.state]
    assert query["iss"] == [ISSUER]
    return query["code"][0]


def issued_token(agent: FirmAgent, resident: Resident, scopes: list[str]) -> str:
    """A consent and a token for it made directly, as the flow would leave them (for tests of the API)."""
    from datetime import timedelta

    from portal.consents.models import Consent, IssuedToken
    from portal.consents.services import credential_hash

    client = FirmClient.objects.select_related("firm").get(client_id=agent.client_id)
    purpose = client.firm.purposes.get()
    now = timezone.now()
    consent = Consent.objects.create(
        resident=resident,
        firm=client.firm,
        client=client,
        purpose=purpose,
        purpose_code=purpose.code,
        purpose_ja=purpose.description_ja,
        purpose_en=purpose.description_en,
        scopes=scopes,
        access_kind=purpose.access_kind,
        interval_days=purpose.interval_days,
        retention_days=client.firm.retention_days,
        starts_at=now,
        expires_at=now + timedelta(days=purpose.access_days),
        signing_request_id=uuid.uuid4(),
        act_digest="c" * 64,
        signer_serial_hash="s" * 64,
    )
    token = secrets.token_urlsafe(32)
    IssuedToken.objects.create(
        consent=consent,
        client=client,
        access_token_hash=credential_hash(token, kind="access"),
        scope=" ".join(["openid", *scopes]),
        dpop_jkt=agent.dpop_key.thumbprint(),
        issued_at=now,
        expires_at=now + timedelta(minutes=10),
    )
    return token
