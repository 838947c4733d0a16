"""The portal's ID-token key (ES256): it signs ID tokens and the consent-ended callbacks; firms fetch its
public half from `jwks_uri`. Its kid is its RFC 7638 thumbprint, so a new key gets a new kid by itself.
"""

from functools import lru_cache
from typing import Any

from cryptography.hazmat.primitives import serialization
from django.conf import settings
from joserfc.jwk import ECKey

from portal.core.keyfiles import p256_private_key


@lru_cache(maxsize=4)
def _joserfc_key(path: str) -> ECKey:
    pem = p256_private_key(path, "OIDC_SIGNING_KEY").private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    key = ECKey.import_key(pem)
    key.ensure_kid()
    return key


def signing_key() -> ECKey:
    return _joserfc_key(settings.OIDC_SIGNING_KEY_FILE)


def public_jwks() -> dict[str, Any]:
    key = signing_key()
    public = key.as_dict(private=False)
    public.update(kid=key.kid, use="sig", alg="ES256")
    return {"keys": [public]}
