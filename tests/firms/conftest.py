"""A firm's application as a form would send it, keys to put in a JWKS, firms in each state, a staff
member, and Celery run eagerly so that the firm's e-mails land in Django's locmem outbox."""

import datetime as dt
import json
import uuid

import pytest
from django.utils import timezone
from joserfc.jwk import ECKey, RSAKey

from portal.consents.models import Consent
from portal.firms import services
from portal.firms.models import AccessKind, Firm
from portal.firms.validation import ApplicationInput, PurposeInput
from portal.identity.models import User

# Published corporate numbers (法人番号) with their check digits: the National Tax Agency itself, and
# companies whose numbers are printed on their own pages.
NTA = "7000012050002"
VALID_NUMBER = "4011001098993"


def public_ec_jwk(kid: str = "key-1") -> dict:
    key = ECKey.generate_key("P-256", private=True)
    return {**key.as_dict(private=False), "kid": kid}


def private_ec_jwk(kid: str = "key-1") -> dict:
    key = ECKey.generate_key("P-256", private=True)
    return {**key.as_dict(private=True), "kid": kid}


def public_rsa_jwk(kid: str = "rsa-1", bits: int = 2048) -> dict:
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        key = RSAKey.generate_key(bits, private=True)
    return {**key.as_dict(private=False), "kid": kid}


def jwks_text(*keys: dict) -> str:
    return json.dumps({"keys": list(keys)})


def form_data(**overrides) -> dict:
    """A complete, valid application as the /developers/ form posts it."""
    data = {
        "purpose_count": "1",
        "legal_name": "つばめ信用金庫",
        "legal_name_en": "Tsubame Shinkin Bank",
        "corporate_number": VALID_NUMBER,
        "address": "東京都中央区日本橋一丁目1番1号",
        "contact_name": "山本 太郎",
        "contact_email": "api@tsubame.example",
        "contact_phone": "03-1234-5678",
        "privacy_policy_url": "https://tsubame.example/privacy",
        "retention_days": "365",
        "redirect_uris": "https://tsubame.example/callback\nhttp://127.0.0.1:9000/callback",
        "callback_url": "https://tsubame.example/consent-events",
        "jwks": jwks_text(public_ec_jwk()),
        "purposes-0-code": "loan-screening",
        "purposes-0-description_ja": "ローンの審査",
        "purposes-0-description_en": "Loan screening",
        "purposes-0-scopes": ["name", "income_tax"],
        "purposes-0-access_kind": "one_time",
        "purposes-0-interval_days": "",
        "purposes-0-access_days": "30",
    }
    data.update(overrides)
    return data


def application(**overrides) -> ApplicationInput:
    """The same application as the service receives it."""
    purpose_fields = {
        "code": "loan-screening",
        "description_ja": "ローンの審査",
        "description_en": "Loan screening",
        "scopes": ("name", "income_tax"),
        "access_kind": AccessKind.ONE_TIME,
        "interval_days": "",
        "access_days": "30",
    }
    purposes = overrides.pop("purposes", None) or (PurposeInput(**purpose_fields),)
    data = {
        key: value
        for key, value in form_data().items()
        if key != "purpose_count" and not key.startswith("purposes-")
    }
    data.update(overrides)
    return ApplicationInput(**data, purposes=tuple(purposes))


@pytest.fixture
def staff(db) -> User:
    # No password: force_login is enough, and hashing one is the slowest thing a test could do here.
    return User.objects.create(username="firm-reviewer", password="!", is_staff=True, is_superuser=True)


@pytest.fixture
def staff_client(client, staff):
    client.force_login(staff)
    return client


def apply(**overrides) -> tuple[Firm, str]:
    return services.firm_apply(application=application(**overrides))


@pytest.fixture
def applied(db) -> tuple[Firm, str]:
    return apply()


@pytest.fixture
def approved(applied, staff) -> Firm:
    firm, _ = applied
    services.firm_approve(firm_id=firm.pk, staff=staff)
    firm.refresh_from_db()
    return firm


def active_consent(firm: Firm, resident) -> Consent:
    """A consent as the consent side would store it (enough for counting what a change affects)."""
    purpose = firm.purposes.first()
    now = timezone.now()
    return Consent.objects.create(
        resident=resident,
        firm=firm,
        client=firm.clients.first(),
        purpose=purpose,
        purpose_code=purpose.code,
        purpose_ja=purpose.description_ja,
        purpose_en=purpose.description_en,
        scopes=purpose.scopes,
        access_kind=purpose.access_kind,
        retention_days=firm.retention_days,
        starts_at=now,
        expires_at=now + dt.timedelta(days=purpose.access_days),
        signing_request_id=uuid.uuid4(),
        act_digest="d" * 64,
        signer_serial_hash="s" * 64,
    )
