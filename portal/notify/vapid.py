"""The portal's VAPID key pair (RFC 8292): push services check that pushes come from the key a browser
subscribed with. The demo and tests make a key when it is missing; production never does.
"""

import base64
import os
from functools import lru_cache
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from py_vapid import Vapid02


def _b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


@lru_cache(maxsize=4)
def _load_key(path: str) -> ec.EllipticCurvePrivateKey:
    key_file = Path(path)
    if not key_file.exists():
        if settings.PRODUCTION:
            raise ImproperlyConfigured(
                f"The VAPID key {path} is missing: set VAPID_PRIVATE_KEY_FILE to its PEM file."
            )
        _make_key(key_file)
    key = serialization.load_pem_private_key(key_file.read_bytes(), password=None)
    if not isinstance(key, ec.EllipticCurvePrivateKey) or key.curve.name != "secp256r1":
        raise ImproperlyConfigured(f"{path} is not a P-256 private key (VAPID needs ES256).")
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


def vapid_private_key() -> ec.EllipticCurvePrivateKey:
    return _load_key(settings.VAPID_PRIVATE_KEY_FILE)


def vapid_signer() -> Vapid02:
    """pywebpush's signer over the portal's key (RFC 8292 ``vapid t=...,k=...`` headers)."""
    return Vapid02(private_key=vapid_private_key())


def vapid_public_key() -> str:
    """The public key as the browser's ``applicationServerKey`` wants it: base64url of the 65-byte point."""
    point = (
        vapid_private_key()
        .public_key()
        .public_bytes(serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)
    )
    return _b64url(point)
