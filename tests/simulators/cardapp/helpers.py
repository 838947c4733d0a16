"""Helpers shared by the card app tests: building signing requests and checking the JWS."""

from __future__ import annotations

import base64
import datetime as dt
import json
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from simulators.cardapp import summary_digest


def make_request(response_url: str, **overrides: Any) -> dict[str, Any]:
    summary = overrides.pop(
        "summary", {"ja": "マイナポータルにログインします。", "en": "Log in to Myna Portal."}
    )
    request = {
        "id": "req-0001",
        "kind": "login",
        "certificate": "auth",
        "nonce": "bm9uY2Utbm9uY2Utbm9uY2Utbm9uY2Utbm9uY2UtMTIz",
        "requester": "マイナポータル",
        "summary": summary,
        "summary_sha256": summary_digest(summary.get("ja", ""), summary.get("en", "")),
        "attributes_requested": [],
        "response_url": response_url,
        "expires_at": (dt.datetime.now(dt.UTC) + dt.timedelta(minutes=5)).isoformat(),
    }
    request.update(overrides)
    return request


def _b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def verify_jws(token: str) -> tuple[dict[str, Any], dict[str, Any], x509.Certificate]:
    """Verify an RS256 compact JWS with the certificate in its x5c; return header, payload, certificate."""
    header_b64, payload_b64, signature_b64 = token.split(".")
    header = json.loads(_b64url_decode(header_b64))
    certificate = x509.load_der_x509_certificate(base64.b64decode(header["x5c"][0]))
    public_key = certificate.public_key()
    assert isinstance(public_key, rsa.RSAPublicKey)
    # Raises InvalidSignature when the signature does not match.
    public_key.verify(
        _b64url_decode(signature_b64),
        f"{header_b64}.{payload_b64}".encode("ascii"),
        padding.PKCS1v15(),
        hashes.SHA256(),
    )
    payload = json.loads(_b64url_decode(payload_b64))
    return header, payload, certificate
