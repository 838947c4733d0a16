"""seed_demo makes the firm the sample bank runs as, with its key pair, and a second run changes nothing."""

import json
import stat

import pytest
from django.core.management import call_command
from joserfc import jwt
from joserfc.jwk import ECKey

from portal.firms.models import Firm, FirmState

pytestmark = pytest.mark.django_db


def test_seed_demo_makes_the_sample_bank_and_is_idempotent(settings, tmp_path):
    settings.VAR_DIR = tmp_path
    call_command("seed_demo", stdout=open("/dev/null", "w"))  # noqa: SIM115

    firm = Firm.objects.get()
    assert (firm.legal_name, firm.legal_name_en, firm.state) == (
        "さくら銀行",
        "Sakura Bank",
        FirmState.APPROVED,
    )
    assert firm.production_allowed and firm.reviewed_by.username == "staff"
    assert firm.redirect_uris == ["http://127.0.0.1:8003/callback"]
    assert firm.callback_url == "http://127.0.0.1:8003/consent-events"
    assert dict(firm.clients.values_list("environment", "client_id")) == {
        "sandbox": "sakura-bank-sandbox",
        "production": "sakura-bank",
    }
    purpose = firm.purposes.get()
    assert (purpose.code, purpose.access_kind, purpose.access_days, purpose.interval_days) == (
        "mortgage-screening",
        "one_time",
        30,
        None,
    )
    assert purpose.scopes == ["openid", "name", "birth_date", "address", "income_tax"]

    key_path = tmp_path / "keys" / "sakura-bank.pem"
    jwks = json.loads((tmp_path / "keys" / "sakura-bank.jwks.json").read_text())
    assert stat.S_IMODE(key_path.stat().st_mode) == 0o600
    (public,) = jwks["keys"]
    assert (public["kid"], public["crv"], public["alg"]) == (
        "sakura-1",
        "P-256",
        "ES256",
    ) and "d" not in public
    assert firm.jwks["keys"][0]["x"] == public["x"]
    for client in firm.clients.all():
        assert client.jwks == firm.jwks
    # The private key signs what the registered public key verifies.
    private = ECKey.import_key(key_path.read_bytes())
    token = jwt.encode({"alg": "ES256", "kid": "sakura-1"}, {"iss": "sakura-bank"}, private)
    assert jwt.decode(token, ECKey.import_key(firm.jwks["keys"][0])).claims == {"iss": "sakura-bank"}

    key_before = key_path.read_bytes()
    call_command("seed_demo", stdout=open("/dev/null", "w"))  # noqa: SIM115
    assert Firm.objects.count() == 1 and firm.clients.count() == 2 and key_path.read_bytes() == key_before


def test_a_new_key_file_is_followed_by_the_registration(settings, tmp_path):
    settings.VAR_DIR = tmp_path
    call_command("seed_demo", stdout=open("/dev/null", "w"))  # noqa: SIM115
    (tmp_path / "keys" / "sakura-bank.pem").unlink()
    call_command("seed_demo", stdout=open("/dev/null", "w"))  # noqa: SIM115
    jwks = json.loads((tmp_path / "keys" / "sakura-bank.jwks.json").read_text())
    firm = Firm.objects.get()
    assert firm.jwks["keys"][0]["x"] == jwks["keys"][0]["x"]
    assert firm.clients.get(client_id="sakura-bank").jwks["keys"][0]["x"] == jwks["keys"][0]["x"]
