"""The bank's signing key for private_key_jwt: an EC P-256 key (PKCS#8 PEM) and its public JWKS.

The portal's ``seed_demo`` makes the same pair when it is missing, to register the bank as a client. Either
side may run first, so each file is written once, atomically, and whoever loses the race reads the winner's.
The private key never leaves this machine's ``var/``; only the JWKS is given to the portal.
"""

from __future__ import annotations

import json
import os
import secrets
from pathlib import Path
from typing import Any

from joserfc.jwk import ECKey

from simulators.bank.config import KEY_ID, Settings


def _create_once(path: Path, content: bytes, mode: int) -> None:
    """Writes ``path`` unless it exists; concurrent writers all end up with the first one's content."""
    if path.exists():
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
    tmp.write_bytes(content)
    os.chmod(tmp, mode)
    try:
        os.link(tmp, path)  # atomic, and refused when another writer got there first
    except FileExistsError:
        pass
    finally:
        tmp.unlink()


def public_jwk(key: ECKey) -> dict[str, Any]:
    return {**key.as_dict(private=False), "kid": KEY_ID, "use": "sig", "alg": "ES256"}


def _same_public_key(jwks_file: Path, key: ECKey) -> bool:
    try:
        published = json.loads(jwks_file.read_text(encoding="utf-8"))["keys"]
    except (OSError, ValueError, KeyError, TypeError):
        return False
    own = key.as_dict(private=False)
    return any(
        isinstance(jwk, dict) and all(jwk.get(name) == own[name] for name in ("kty", "crv", "x", "y"))
        for jwk in published
    )


def bank_key(settings: Settings) -> ECKey:
    """The bank's private key with kid ``sakura-1``, made (with its JWKS) if missing."""
    fresh = ECKey.generate_key("P-256", private=True)
    _create_once(settings.key_file, fresh.as_pem(private=True), 0o600)
    key = ECKey.import_key(settings.key_file.read_bytes(), parameters={"kid": KEY_ID})
    jwks_text = json.dumps({"keys": [public_jwk(key)]}, indent=2) + "\n"
    _create_once(settings.jwks_file, jwks_text.encode(), 0o644)
    if not _same_public_key(settings.jwks_file, key):
        # A JWKS left from an older key (the PEM was replaced by hand): the PEM is what signs, so it wins.
        tmp = settings.jwks_file.with_name(f".{settings.jwks_file.name}.{os.getpid()}")
        tmp.write_text(jwks_text, encoding="utf-8")
        tmp.replace(settings.jwks_file)
    return key
