"""Field encryption (AES-256-GCM with key ids) and keyed hashes for look-ups (SPEC 2.5).

Tokens look like ``v1$<kid>$<base64url(nonce || ciphertext)>``; the key id lets keys rotate without a
flag day. Each field passes its own associated data, so a ciphertext copied into another column or
table does not decrypt. Nothing here logs or returns plaintext on failure.
"""

import base64
import hashlib
import hmac
import os
from dataclasses import dataclass
from functools import lru_cache

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

TOKEN_VERSION = "v1"  # noqa: S105 -- a format tag, not a secret
NONCE_BYTES = 12


class DecryptionError(Exception):
    """A stored value could not be decrypted: unknown key id, tampering, or a value moved between fields."""


def _b64decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _b64encode(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


@dataclass(frozen=True)
class FieldCipher:
    """The keys named by FIELD_ENCRYPTION_KEYS: the first encrypts, every one decrypts."""

    keys: dict[str, bytes]
    current_kid: str

    @classmethod
    def from_spec(cls, spec: str) -> "FieldCipher":
        keys: dict[str, bytes] = {}
        first = None
        for item in spec.split(","):
            kid, _, encoded = item.strip().partition(":")
            if not kid or not encoded or "$" in kid:
                raise ImproperlyConfigured("FIELD_ENCRYPTION_KEYS entries look like 'kid:base64url-key'.")
            try:
                key = _b64decode(encoded)
            except ValueError as exc:
                raise ImproperlyConfigured(f"Field encryption key {kid!r} is not base64url.") from exc
            if len(key) != 32:
                raise ImproperlyConfigured(f"Field encryption key {kid!r} must be 32 bytes (AES-256).")
            keys[kid] = key
            first = first or kid
        if first is None:
            raise ImproperlyConfigured("FIELD_ENCRYPTION_KEYS names no key.")
        return cls(keys=keys, current_kid=first)

    def encrypt(self, plaintext: str, *, context: str) -> str:
        nonce = os.urandom(NONCE_BYTES)
        sealed = AESGCM(self.keys[self.current_kid]).encrypt(nonce, plaintext.encode(), context.encode())
        return f"{TOKEN_VERSION}${self.current_kid}${_b64encode(nonce + sealed)}"

    def decrypt(self, token: str, *, context: str) -> str:
        try:
            version, kid, body = token.split("$", 2)
        except ValueError as exc:
            raise DecryptionError("not an encrypted token") from exc
        if version != TOKEN_VERSION or kid not in self.keys:
            raise DecryptionError(f"unknown token version or key id {kid!r}")
        raw = _b64decode(body)
        try:
            plain = AESGCM(self.keys[kid]).decrypt(raw[:NONCE_BYTES], raw[NONCE_BYTES:], context.encode())
        except InvalidTag as exc:
            raise DecryptionError("authentication tag did not verify") from exc
        return plain.decode()

    @staticmethod
    def key_id_of(token: str) -> str:
        return token.split("$", 2)[1]


@lru_cache(maxsize=4)
def _cipher_for(spec: str) -> FieldCipher:
    return FieldCipher.from_spec(spec)


def field_cipher() -> FieldCipher:
    return _cipher_for(settings.FIELD_ENCRYPTION_KEYS)


def lookup_hash(value: str, *, purpose: str) -> str:
    """Keyed hash that finds an encrypted value without decrypting every row; purpose separates uses."""
    message = purpose.encode() + b"\x00" + value.encode()
    return hmac.new(settings.LOOKUP_HASH_KEY.encode(), message, hashlib.sha256).hexdigest()


def new_field_key() -> str:
    return _b64encode(os.urandom(32))
