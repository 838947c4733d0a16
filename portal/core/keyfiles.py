"""The portal's own P-256 private keys on disk (VAPID, ID tokens): the demo and tests make one when it is
missing; production never does and refuses to start a feature without its key.
"""

import os
from functools import lru_cache
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured


@lru_cache(maxsize=8)
def p256_private_key(path: str, setting: str) -> ec.EllipticCurvePrivateKey:
    """The key in the PEM file `path`; `setting` names the variable that points at it, for the error."""
    key_file = Path(path)
    if not key_file.exists():
        if settings.PRODUCTION:
            raise ImproperlyConfigured(f"The key {path} is missing: set {setting} to its PEM file.")
        _make_key(key_file)
    key = serialization.load_pem_private_key(key_file.read_bytes(), password=None)
    if not isinstance(key, ec.EllipticCurvePrivateKey) or key.curve.name != "secp256r1":
        raise ImproperlyConfigured(f"{path} is not a P-256 private key (ES256).")
    return key


def _make_key(key_file: Path) -> None:
    """Demo and tests only: a new key, written once even if two processes start together."""
    key_file.parent.mkdir(parents=True, exist_ok=True)
    pem = ec.generate_private_key(ec.SECP256R1()).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    try:
        descriptor = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return
    with os.fdopen(descriptor, "wb") as handle:
        handle.write(pem)
