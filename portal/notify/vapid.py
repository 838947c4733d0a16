"""The portal's VAPID key pair (RFC 8292): push services check that pushes come from the key a browser
subscribed with. The demo and tests make a key when it is missing; production never does.
"""

import base64

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from django.conf import settings
from py_vapid import Vapid02

from portal.core.keyfiles import p256_private_key


def _b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def vapid_private_key() -> ec.EllipticCurvePrivateKey:
    return p256_private_key(settings.VAPID_PRIVATE_KEY_FILE, "VAPID_PRIVATE_KEY_FILE")


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
