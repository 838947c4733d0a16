"""The consent API's benchmark data: a firm of the benchmark's own with its keys, residents who consented to
it, their income held in the cache, and the one-use codes and DPoP-bound tokens the firm spends.

Import after bench_environment(). Writes only to the bench database, and only rows of this benchmark's own
firm and residents. Consents, codes and tokens are written directly, as the consent screen and the token
endpoint leave them: the card's signature is `login_verification`'s concern, not this benchmark's.
"""

import base64
import datetime as dt
import hashlib
import secrets
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from joserfc import jwt
from joserfc.jwk import ECKey

from bench.residents import demo_identity, demo_people, entries_cached, residents_ensure, simulator_data
from portal.consents.models import AuthorizationCode, Consent, ConsentState, IssuedToken
from portal.consents.services import credential_hash
from portal.firms.models import AccessKind, ClientEnvironment, Firm, FirmClient, FirmPurpose, FirmState
from portal.identity.models import Resident

PREFIX = "bench-consent-"
TOWN = "ベンチ県同意市"
CLIENT_ID = "bench-consent-bank"
LEGAL_NAME = "ベンチ信用金庫"
# 法人番号 900000000001 with its check digit (9 − weighted sum mod 9) in front; no real corporation's.
CORPORATE_NUMBER = "8900000000001"
PURPOSE = "income-monitoring"
REDIRECT_URI = "https://bench-bank.example/callback"
CATEGORY = "income_tax"
SCOPE = f"openid {CATEGORY}"
# Who every bench resident is, and whose income the simulator generates: the demo's ordinary resident.
PERSON = "yamada-hanako"
ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
# A token set is issued again when it has less than this left, so no phase meets an expired token.
TOKEN_MARGIN = dt.timedelta(seconds=120)


def b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


@dataclass
class FirmSigner:
    """What the firm's client signs for each request: a client assertion (private_key_jwt) and a DPoP proof,
    each with a fresh jti. Counts and times its signatures."""

    issuer: str
    client_key: ECKey
    dpop_key: ECKey = field(default_factory=lambda: ECKey.generate_key("P-256", private=True))
    seconds: dict[str, float] = field(default_factory=lambda: {"assertion": 0.0, "dpop": 0.0})
    signed: dict[str, int] = field(default_factory=lambda: {"assertion": 0, "dpop": 0})

    def __post_init__(self) -> None:
        self._dpop_header = {"alg": "ES256", "typ": "dpop+jwt", "jwk": self.dpop_key.as_dict(private=False)}
        self.jkt = self.dpop_key.thumbprint()

    def assertion(self) -> str:
        started = time.perf_counter()
        now = int(time.time())
        claims = {
            "iss": CLIENT_ID,
            "sub": CLIENT_ID,
            "aud": f"{self.issuer}/oauth/token",
            "iat": now,
            "exp": now + 120,
            "jti": uuid.uuid4().hex,
        }
        signed = jwt.encode({"alg": "ES256", "kid": self.client_key.kid}, claims, self.client_key)
        self._count("assertion", started)
        return signed

    def dpop(self, method: str, path: str, *, access_token: str | None = None) -> str:
        started = time.perf_counter()
        claims = {
            "jti": secrets.token_urlsafe(16),
            "htm": method,
            "htu": self.issuer + path,
            "iat": int(time.time()),
        }
        if access_token is not None:
            claims["ath"] = b64url(hashlib.sha256(access_token.encode()).digest())
        signed = jwt.encode(self._dpop_header, claims, self.dpop_key)
        self._count("dpop", started)
        return signed

    def _count(self, kind: str, started: float) -> None:
        self.seconds[kind] += time.perf_counter() - started
        self.signed[kind] += 1

    def mean_ms(self, kind: str) -> float:
        return self.seconds[kind] * 1000 / max(self.signed[kind], 1)


def firm_registered(directory: Path) -> tuple[FirmClient, FirmPurpose, ECKey]:
    """The bench's firm, approved for production, with one periodic purpose (income, no pull interval)
    and its client, whose JWKS is replaced by a key made for this run (as staff would register it)."""
    key = ECKey.generate_key("P-256", private=True)
    key.ensure_kid()
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "client.pem").write_bytes(key.as_pem(private=True))
    public = {**key.as_dict(private=False), "kid": key.kid, "alg": "ES256", "use": "sig"}
    with transaction.atomic():
        client = FirmClient.objects.select_related("firm").filter(client_id=CLIENT_ID).first()
        if client is None:
            firm = Firm.objects.create(
                legal_name=LEGAL_NAME,
                legal_name_en="Bench Shinkin Bank",
                corporate_number=CORPORATE_NUMBER,
                address=f"{TOWN}一丁目1番地",
                contact_name="ベンチ 担当",
                contact_email="api@bench-bank.example",
                privacy_policy_url="https://bench-bank.example/privacy",
                retention_days=365,
                state=FirmState.APPROVED,
                production_allowed=True,
                reviewed_at=timezone.now(),
            )
            client = FirmClient.objects.create(
                firm=firm,
                client_id=CLIENT_ID,
                environment=ClientEnvironment.PRODUCTION,
                redirect_uris=[REDIRECT_URI],
                jwks={},
                callback_url="",
            )
        purpose, _ = FirmPurpose.objects.update_or_create(
            firm=client.firm,
            code=PURPOSE,
            defaults={
                "description_ja": "融資先の所得の定期確認",
                "description_en": "Periodic check of a borrower's income",
                "scopes": [CATEGORY],
                "access_kind": AccessKind.PERIODIC,
                # No interval: every pull is allowed, so the benchmark can pull as fast as it goes.
                "interval_days": None,
                "access_days": 365,
            },
        )
        client.jwks = {"keys": [public]}
        client.save(update_fields=["jwks"])
    return client, purpose, key


def bench_residents(count: int, *, bench: str) -> list[Resident]:
    """`count` residents of this benchmark's own (bench-consent-00000, …), made once, in bulk: the demo's
    ordinary resident's name and birth date, with a My Number of their own (the issue-4 benchmarks' demo
    residents hold the real ones), in a town no other benchmark's notices are addressed to."""
    person = demo_people()[PERSON]
    residents = residents_ensure(
        (f"{PREFIX}{index:05d}" for index in range(count)),
        lambda _username, rng: demo_identity(person, address=f"{TOWN}一丁目{rng.randint(1, 30)}番地"),
        bench=bench,
    )
    return sorted(residents.values(), key=lambda resident: resident.user.username)


def consents_active(residents: list[Resident], client: FirmClient, purpose: FirmPurpose) -> list[Consent]:
    """Each resident's active consent to the purpose, made as the consent screen makes it (the terms as
    signed; the signature's references filled in, no card involved), reused while it has a month left."""
    now = timezone.now()
    usable = {
        consent.resident_id: consent
        for consent in Consent.objects.filter(
            client=client,
            purpose=purpose,
            state=ConsentState.ACTIVE,
            expires_at__gt=now + dt.timedelta(days=30),
            resident__in=residents,
        )
    }
    missing = [resident for resident in residents if resident.pk not in usable]
    Consent.objects.filter(client=client, state=ConsentState.ACTIVE, resident__in=missing).update(
        state=ConsentState.EXPIRED, ended_at=now
    )
    made = Consent.objects.bulk_create(
        [
            Consent(
                resident=resident,
                firm=client.firm,
                client=client,
                purpose=purpose,
                purpose_code=purpose.code,
                purpose_ja=purpose.description_ja,
                purpose_en=purpose.description_en,
                scopes=list(purpose.scopes),
                access_kind=purpose.access_kind,
                interval_days=purpose.interval_days,
                retention_days=client.firm.retention_days,
                starts_at=now,
                expires_at=now + dt.timedelta(days=purpose.access_days),
                signing_request_id=uuid.uuid4(),
                act_digest=hashlib.sha256(f"bench:{resident.public_id}".encode()).hexdigest(),
                signer_serial_hash=hashlib.sha256(b"bench-card").hexdigest(),
            )
            for resident in missing
        ]
    )
    usable.update({consent.resident_id: consent for consent in made})
    return [usable[resident.pk] for resident in residents]


def income_payload(*, bench: str) -> dict:
    """The income the agency simulator generates for the demo's ordinary resident today."""
    return simulator_data(CATEGORY, PERSON, bench=bench)


def income_cached(residents: list[Resident], data: dict) -> int:
    """Each resident's income entry, done and fresh for this run; the JSON's bytes."""
    return entries_cached(residents, CATEGORY, data)


def credentials_cleared(client: FirmClient) -> None:
    """Earlier runs' tokens and codes of the bench client: the counts after a run start from none."""
    IssuedToken.objects.filter(client=client).delete()
    AuthorizationCode.objects.filter(client=client).delete()


@dataclass(frozen=True)
class IssuedCode:
    code: str
    verifier: str


def codes_issued(consents: list[Consent], count: int, *, start: int = 0) -> list[IssuedCode]:
    """`count` codes, as the authorization endpoint leaves them after a consent (PKCE S256, a nonce, 60 s),
    the consents taken in turn from `start`; only their keyed hashes are stored."""
    now = timezone.now()
    issued, rows = [], []
    for index in range(start, start + count):
        consent = consents[index % len(consents)]
        code = IssuedCode(code=secrets.token_urlsafe(32), verifier=secrets.token_urlsafe(48))
        issued.append(code)
        rows.append(
            AuthorizationCode(
                code_hash=credential_hash(code.code, kind="code"),
                client_id=consent.client_id,
                consent=consent,
                redirect_uri=REDIRECT_URI,
                scope=SCOPE,
                code_challenge=b64url(hashlib.sha256(code.verifier.encode()).digest()),
                code_challenge_method="S256",
                nonce=secrets.token_urlsafe(12),
                auth_time=now,
                expires_at=now + dt.timedelta(seconds=settings.CONSENT_CODE_SECONDS),
            )
        )
    AuthorizationCode.objects.bulk_create(rows, batch_size=1000)
    return issued


def tokens_issued(consents: list[Consent], jkt: str) -> tuple[list[str], dt.datetime]:
    """One access token per consent, bound to the firm's DPoP key, as the token endpoint issues it (no
    refresh token: only the access token is used here); returns them and when they expire."""
    now = timezone.now()
    expires_at = now + dt.timedelta(seconds=settings.CONSENT_ACCESS_TOKEN_SECONDS)
    tokens = [secrets.token_urlsafe(32) for _ in consents]
    IssuedToken.objects.bulk_create(
        [
            IssuedToken(
                consent=consent,
                client_id=consent.client_id,
                access_token_hash=credential_hash(token, kind="access"),
                scope=SCOPE,
                dpop_jkt=jkt,
                issued_at=now,
                expires_at=expires_at,
            )
            for consent, token in zip(consents, tokens, strict=True)
        ],
        batch_size=1000,
    )
    return tokens, expires_at
