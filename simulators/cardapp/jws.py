"""Compact JWS (RS256) exactly as the contract's "A signature" section describes."""

from __future__ import annotations

import base64
import json
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

JWS_TYP = "jpki-sig"


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _json(value: dict[str, Any]) -> bytes:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def sign_compact(key: rsa.RSAPrivateKey, certificate: x509.Certificate, payload: dict[str, Any]) -> str:
    """``header.payload.signature`` with RSASSA-PKCS1-v1_5/SHA-256 and the certificate in ``x5c``."""
    der = certificate.public_bytes(serialization.Encoding.DER)
    header = {"alg": "RS256", "typ": JWS_TYP, "x5c": [base64.b64encode(der).decode("ascii")]}
    signing_input = f"{b64url(_json(header))}.{b64url(_json(payload))}"
    signature = key.sign(signing_input.encode("ascii"), padding.PKCS1v15(), hashes.SHA256())
    return f"{signing_input}.{b64url(signature)}"
