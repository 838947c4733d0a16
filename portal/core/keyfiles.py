"""The portal's own private keys on disk (VAPID, ID tokens, the history roots): the demo and tests make one
when it is missing; production never does and refuses to start a feature without its key.
"""

import os
from collections.abc import Callable
from functools import lru_cache
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.types import PrivateKeyTypes
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured


def secret_file_create(path: Path, content: bytes) -> bool:
    """Writes `content` to a new file only its owner may read; False, writing nothing, if the file exists.

    O_EXCL: two processes starting at once must not end up with different keys; the first one's stays."""
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return False
    with os.fdopen(descriptor, "wb") as handle:
        handle.write(content)
    return True


def private_key_read(
    path: str, *, setting: str, generate: Callable[[], PrivateKeyTypes], what: str = "The key"
) -> PrivateKeyTypes:
    """The private key in the PEM file `path`. When it is missing, the demo and tests get a new one from
    `generate`; production refuses, naming `setting`, the variable that points at the file."""
    key_file = Path(path)
    if not key_file.exists():
        if settings.PRODUCTION:
            raise ImproperlyConfigured(f"{what} {path} is missing: set {setting} to its PEM file.")
        pem = generate().private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        secret_file_create(key_file, pem)
    return serialization.load_pem_private_key(key_file.read_bytes(), password=None)


@lru_cache(maxsize=8)
def p256_private_key(path: str, setting: str) -> ec.EllipticCurvePrivateKey:
    """The key in the PEM file `path`; `setting` names the variable that points at it, for the error."""
    key = private_key_read(path, setting=setting, generate=lambda: ec.generate_private_key(ec.SECP256R1()))
    if not isinstance(key, ec.EllipticCurvePrivateKey) or key.curve.name != "secp256r1":
        raise ImproperlyConfigured(f"{path} is not a P-256 private key (ES256).")
    return key
