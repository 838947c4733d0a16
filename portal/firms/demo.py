"""The demo firm the sample bank runs as: さくら銀行 / Sakura Bank, approved, production allowed, with
fixed client ids and its key pair under VAR_DIR/keys (made here when missing; the sample bank reads the
private key, the portal registers the public one). Demo and tests only; idempotent.

Files: `sakura-bank.pem` (EC P-256 private key, PKCS#8 PEM, mode 0600; its kid is SAKURA_KID) and
`sakura-bank.jwks.json` (the public JWKS).
"""

import json
from pathlib import Path

from django.conf import settings
from django.db import transaction
from joserfc.jwk import ECKey

from portal.core.keyfiles import secret_file_create
from portal.firms import services
from portal.firms.models import Firm, FirmClient
from portal.firms.validation import ApplicationInput, PurposeInput
from portal.identity.models import User

SAKURA_KID = "sakura-1"
SAKURA_SANDBOX_CLIENT_ID = "sakura-bank-sandbox"
SAKURA_CLIENT_ID = "sakura-bank"
# A made-up number with a valid check digit (base 010001000000: 東京, 株式会社, serial 0).
SAKURA_CORPORATE_NUMBER = "7010001000000"
SAKURA_REDIRECT_URI = "http://127.0.0.1:8003/callback"
SAKURA_CALLBACK_URL = "http://127.0.0.1:8003/consent-events"


def sakura_key_paths() -> tuple[Path, Path]:
    directory = Path(settings.VAR_DIR) / "keys"
    return directory / "sakura-bank.pem", directory / "sakura-bank.jwks.json"


def sakura_keys_ensure() -> dict:
    """The bank's public JWKS; the private key is made once (never replaced), the JWKS file rewritten."""
    key_path, jwks_path = sakura_key_paths()
    key_path.parent.mkdir(parents=True, exist_ok=True)
    if not key_path.exists():
        secret_file_create(key_path, ECKey.generate_key("P-256", private=True).as_pem(private=True))
    key = ECKey.import_key(key_path.read_bytes())
    public = key.as_dict(private=False)
    jwks = {"keys": [{**public, "kid": SAKURA_KID, "use": "sig", "alg": "ES256"}]}
    jwks_path.write_text(json.dumps(jwks, indent=2))
    return jwks


def _application(jwks: dict) -> ApplicationInput:
    return ApplicationInput(
        legal_name="さくら銀行",
        legal_name_en="Sakura Bank",
        corporate_number=SAKURA_CORPORATE_NUMBER,
        address="東京都千代田区丸の内一丁目1番1号",
        contact_name="API 担当",
        contact_email="api@sakura-bank.example",
        contact_phone="03-0000-0000",
        privacy_policy_url="https://sakura-bank.example/privacy",
        retention_days="1825",
        redirect_uris=SAKURA_REDIRECT_URI,
        callback_url=SAKURA_CALLBACK_URL,
        jwks=json.dumps(jwks),
        purposes=(
            PurposeInput(
                code="mortgage-screening",
                description_ja="住宅ローンの審査（収入の確認）",
                description_en="Mortgage screening (checking your income)",
                scopes=("openid", "name", "birth_date", "address", "income_tax"),
                access_kind="one_time",
                access_days="30",
            ),
        ),
    )


@transaction.atomic
def demo_firm_ensure(*, staff: User) -> tuple[Firm, str]:
    """The demo firm, and the secret of its manage link when it was made now ("" when it existed)."""
    jwks = sakura_keys_ensure()
    existing = FirmClient.objects.filter(client_id=SAKURA_CLIENT_ID).select_related("firm").first()
    if existing is not None:
        firm = existing.firm
        # The key file may have been made again (a fresh var/): the registration follows it.
        Firm.objects.filter(pk=firm.pk).update(
            jwks=jwks, redirect_uris=[SAKURA_REDIRECT_URI], callback_url=SAKURA_CALLBACK_URL
        )
        firm.clients.update(jwks=jwks, redirect_uris=[SAKURA_REDIRECT_URI], callback_url=SAKURA_CALLBACK_URL)
        return firm, ""
    firm, token = services.firm_apply(application=_application(jwks))
    services.firm_approve(firm_id=firm.pk, staff=staff, sandbox_client_id=SAKURA_SANDBOX_CLIENT_ID)
    services.firm_production_allow(firm_id=firm.pk, staff=staff, production_client_id=SAKURA_CLIENT_ID)
    firm.refresh_from_db()
    return firm, token
