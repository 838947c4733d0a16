"""The bank's key pair: made when missing (PKCS#8 PEM, JWKS with kid sakura-1), never replaced, and the
same files whether the bank or the portal's seed_demo made them first."""

from __future__ import annotations

import json
import stat
from pathlib import Path

from cryptography.hazmat.primitives.serialization import load_pem_private_key
from joserfc.jwk import ECKey

from simulators.bank import Settings
from simulators.bank.__main__ import main
from simulators.bank.keys import bank_key


def _settings(tmp_path: Path) -> Settings:
    return Settings(
        key_file=tmp_path / "keys" / "sakura-bank.pem", jwks_file=tmp_path / "keys" / "sakura-bank.jwks.json"
    )


def test_the_pair_is_made_when_missing(tmp_path: Path):
    settings = _settings(tmp_path)

    key = bank_key(settings)

    pem = settings.key_file.read_bytes()
    assert pem.startswith(b"-----BEGIN PRIVATE KEY-----")  # PKCS#8
    assert load_pem_private_key(pem, password=None).curve.name == "secp256r1"
    assert stat.S_IMODE(settings.key_file.stat().st_mode) == 0o600
    jwks = json.loads(settings.jwks_file.read_text())
    [public] = jwks["keys"]
    assert public == {**key.as_dict(private=False), "kid": "sakura-1", "use": "sig", "alg": "ES256"}
    assert "d" not in public
    assert key.kid == "sakura-1"


def test_the_pair_is_kept_on_later_runs(tmp_path: Path):
    settings = _settings(tmp_path)
    first = bank_key(settings)
    jwks = settings.jwks_file.read_text()

    second = bank_key(settings)

    assert first.as_dict(private=True) == second.as_dict(private=True)
    assert settings.jwks_file.read_text() == jwks


def test_a_pair_made_by_the_portal_first_is_used_as_it_is(tmp_path: Path):
    settings = _settings(tmp_path)
    theirs = ECKey.generate_key("P-256", private=True)
    settings.key_file.parent.mkdir(parents=True)
    settings.key_file.write_bytes(theirs.as_pem(private=True))
    their_jwks = json.dumps(
        {"keys": [{**theirs.as_dict(private=False), "kid": "sakura-1", "use": "sig", "alg": "ES256"}]}
    )
    settings.jwks_file.write_text(their_jwks)

    key = bank_key(settings)

    assert key.as_dict(private=False) == {**theirs.as_dict(private=False), "kid": "sakura-1"}
    assert settings.jwks_file.read_text() == their_jwks


def test_a_jwks_of_another_key_is_rewritten_from_the_pem(tmp_path: Path):
    settings = _settings(tmp_path)
    key = bank_key(settings)
    stale = ECKey.generate_key("P-256", private=True)
    settings.jwks_file.write_text(json.dumps({"keys": [stale.as_dict(private=False)]}))

    bank_key(settings)

    [public] = json.loads(settings.jwks_file.read_text())["keys"]
    assert public["x"] == key.as_dict(private=False)["x"] and public["kid"] == "sakura-1"


def test_cli_init_makes_the_pair(tmp_path: Path, monkeypatch, capsys):
    monkeypatch.setenv("BANK_KEY_FILE", str(tmp_path / "k.pem"))
    monkeypatch.setenv("BANK_JWKS_FILE", str(tmp_path / "k.jwks.json"))

    assert main(["init"]) == 0

    assert (tmp_path / "k.pem").exists() and (tmp_path / "k.jwks.json").exists()
    assert "k.jwks.json" in capsys.readouterr().out


def test_keys_follow_the_portals_var_dir(tmp_path: Path, monkeypatch):
    monkeypatch.setenv("PORTAL_VAR_DIR", str(tmp_path))
    monkeypatch.delenv("BANK_KEY_FILE", raising=False)
    settings = Settings.from_env()
    assert settings.key_file == tmp_path / "keys" / "sakura-bank.pem"
    assert settings.jwks_file == tmp_path / "keys" / "sakura-bank.jwks.json"
