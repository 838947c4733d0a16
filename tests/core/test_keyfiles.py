"""The portal's own key files: made once for the demo and tests, never in production."""

import stat

import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from django.core.exceptions import ImproperlyConfigured

from portal.core.keyfiles import p256_private_key, private_key_read, secret_file_create


def test_secret_file_is_written_once_for_its_owner_only(tmp_path):
    path = tmp_path / "keys" / "one.pem"

    assert secret_file_create(path, b"first") is True
    assert secret_file_create(path, b"second") is False

    assert path.read_bytes() == b"first"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_missing_key_is_made_then_kept(tmp_path, settings):
    settings.PRODUCTION = False
    path = str(tmp_path / "root.pem")

    made = private_key_read(path, setting="SOME_KEY", generate=Ed25519PrivateKey.generate)
    again = private_key_read(path, setting="SOME_KEY", generate=Ed25519PrivateKey.generate)

    assert isinstance(made, Ed25519PrivateKey)
    assert made.public_key() == again.public_key()


def test_production_refuses_a_missing_key_naming_its_setting(tmp_path, settings):
    settings.PRODUCTION = True
    path = tmp_path / "absent.pem"

    with pytest.raises(ImproperlyConfigured, match="SOME_KEY"):
        private_key_read(str(path), setting="SOME_KEY", generate=Ed25519PrivateKey.generate)

    assert not path.exists()


def test_p256_key_refuses_another_kind_of_key(tmp_path, settings):
    settings.PRODUCTION = False
    path = str(tmp_path / "ed25519.pem")
    private_key_read(path, setting="SOME_KEY", generate=Ed25519PrivateKey.generate)

    with pytest.raises(ImproperlyConfigured, match="not a P-256"):
        p256_private_key(path, "SOME_KEY")


def test_p256_key_is_made_on_the_curve_es256_needs(tmp_path, settings):
    settings.PRODUCTION = False

    key = p256_private_key(str(tmp_path / "vapid.pem"), "SOME_KEY")

    assert isinstance(key, ec.EllipticCurvePrivateKey) and key.curve.name == "secp256r1"
