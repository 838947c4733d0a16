"""Verifies what the card app sends: the certificate path to a trusted CA, validity, revocation (CRL),
the certificate's kind, and the RS256 signature over the signing request (docs/contracts.md).

Fails closed: when revocation cannot be checked, nothing is accepted. Never logs certificates or payloads.
"""

import base64
import json
import threading
import time
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

import httpx
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509.oid import ExtensionOID
from django.conf import settings
from django.core.cache import cache
from django.utils import timezone

from portal.core.crypto import lookup_hash
from portal.core.errors import PortalError

AUTH_POLICY_OID = x509.ObjectIdentifier("1.2.392.200149.8.5.1.3.30")
SIGNATURE_POLICY_OID = x509.ObjectIdentifier("1.2.392.200149.8.5.1.1.10")
POLICY_BY_KIND = {"auth": AUTH_POLICY_OID, "signature": SIGNATURE_POLICY_OID}

ATTRIBUTE_OIDS = {
    "1.2.392.200149.8.5.5.1": "name",
    "1.2.392.200149.8.5.5.2": "name_kana",
    "1.2.392.200149.8.5.5.3": "sex",
    "1.2.392.200149.8.5.5.4": "birth_date",
    "1.2.392.200149.8.5.5.5": "address",
}
CRL_CACHE_KEY = "jpki:crl"
MAX_JWS_BYTES = 16_384


def refusal(code: str, ja: str, en: str, status: int = 400) -> PortalError:
    return PortalError(code=code, message_ja=ja, message_en=en, status=status)


@dataclass(frozen=True)
class CardIdentity:
    """基本4情報 from the signature certificate, plus kana."""

    name: str
    name_kana: str
    birth_date: date
    sex: str
    address: str

    def as_json(self) -> dict:
        return {**self.__dict__, "birth_date": self.birth_date.isoformat()}

    @classmethod
    def from_json(cls, data: dict) -> "CardIdentity":
        return cls(**{**data, "birth_date": date.fromisoformat(data["birth_date"])})


@dataclass(frozen=True)
class VerifiedSignature:
    certificate: x509.Certificate
    kind: str
    serial_hash: str
    payload: dict

    @property
    def not_after(self) -> datetime:
        return self.certificate.not_valid_after_utc

    def identity(self) -> CardIdentity:
        return identity_from_certificate(self.certificate)


def certificate_serial_hash(certificate: x509.Certificate) -> str:
    issuer = certificate.issuer.rfc4514_string()
    return lookup_hash(f"{issuer}|{certificate.serial_number}", purpose="jpki-serial")


# --- trust anchors -----------------------------------------------------------------------------------

_anchor_lock = threading.Lock()
_anchor_cache: dict[str, tuple[float, list[x509.Certificate]]] = {}


def trust_anchors() -> list[x509.Certificate]:
    """The CA certificates from JPKI_TRUST_ANCHORS, re-read when the file changes."""
    path = Path(settings.JPKI_TRUST_ANCHORS)
    try:
        mtime = path.stat().st_mtime
    except FileNotFoundError as exc:
        raise refusal(
            "trust_anchor_missing",
            "認証局の証明書が設定されていないため、確認できません。",
            "The certification authority's certificate is not configured, so nothing can be verified.",
            503,
        ) from exc
    with _anchor_lock:
        cached = _anchor_cache.get(str(path))
        if cached and cached[0] == mtime:
            return cached[1]
        anchors = x509.load_pem_x509_certificates(path.read_bytes())
        _anchor_cache[str(path)] = (mtime, anchors)
        return anchors


# --- revocation --------------------------------------------------------------------------------------

_crl_memory: dict[str, tuple[float, x509.CertificateRevocationList]] = {}
CRL_MEMORY_SECONDS = 60


def _crl_is_current(crl: x509.CertificateRevocationList) -> bool:
    next_update = crl.next_update_utc
    return next_update is not None and next_update > timezone.now()


def _crl_verified(raw: bytes) -> x509.CertificateRevocationList:
    crl = x509.load_der_x509_crl(raw)
    for anchor in trust_anchors():
        if crl.issuer == anchor.subject and crl.is_signature_valid(anchor.public_key()):
            return crl
    raise ValueError("CRL not signed by a trusted CA")


def crl_refresh() -> x509.CertificateRevocationList:
    """Fetch, verify and share the CRL (cache), so every process checks against the same list."""
    response = httpx.get(settings.JPKI_CRL_URL, timeout=5)
    response.raise_for_status()
    crl = _crl_verified(response.content)
    if not _crl_is_current(crl):
        raise ValueError("the CRL served is past its next update")
    cache.set(CRL_CACHE_KEY, response.content, timeout=24 * 3600)
    _crl_memory["crl"] = (time.monotonic(), crl)
    return crl


# The revoked serials of the CRL in use, as a set: the library's look-up scans the whole list, which at
# 100,000 revocations costs 10 ms per login (bench/README.md). Keyed by the CRL's signature, so a CRL
# re-read from the cache every minute is not re-indexed.
_revoked_index: dict[bytes, frozenset[int]] = {}


def is_revoked(serial_number: int) -> bool:
    crl = current_crl()
    revoked = _revoked_index.get(crl.signature)
    if revoked is None:
        revoked = frozenset(entry.serial_number for entry in crl)
        _revoked_index.clear()
        _revoked_index[crl.signature] = revoked
    return serial_number in revoked


def current_crl() -> x509.CertificateRevocationList:
    """The current CRL: from memory for a minute, then the shared cache, then the CA."""
    held = _crl_memory.get("crl")
    if held and time.monotonic() - held[0] < CRL_MEMORY_SECONDS and _crl_is_current(held[1]):
        return held[1]
    raw = cache.get(CRL_CACHE_KEY)
    if raw:
        try:
            crl = _crl_verified(raw)
            if _crl_is_current(crl):
                _crl_memory["crl"] = (time.monotonic(), crl)
                return crl
        except ValueError:
            pass
    try:
        return crl_refresh()
    except (httpx.HTTPError, ValueError) as exc:
        raise refusal(
            "revocation_unavailable",
            "証明書の失効情報を確認できないため、受け付けられません。しばらくしてからお試しください。",
            "The certificate's revocation status cannot be checked right now, so it cannot be accepted. "
            "Please try again later.",
            503,
        ) from exc


# --- certificates ------------------------------------------------------------------------------------


def _issuing_anchor(certificate: x509.Certificate) -> x509.Certificate:
    for anchor in trust_anchors():
        if anchor.subject != certificate.issuer:
            continue
        try:
            certificate.verify_directly_issued_by(anchor)
        except (ValueError, TypeError, InvalidSignature):
            continue
        return anchor
    raise refusal(
        "unknown_issuer",
        "この証明書は信頼できる認証局が発行したものではありません。",
        "This certificate was not issued by a trusted certification authority.",
    )


def _policy_oids(certificate: x509.Certificate) -> set[x509.ObjectIdentifier]:
    try:
        policies = certificate.extensions.get_extension_for_oid(ExtensionOID.CERTIFICATE_POLICIES).value
    except x509.ExtensionNotFound:
        return set()
    return {policy.policy_identifier for policy in policies}


def verify_certificate(certificate: x509.Certificate, *, kind: str) -> None:
    _issuing_anchor(certificate)
    now = timezone.now()
    if now < certificate.not_valid_before_utc:
        raise refusal(
            "certificate_not_yet_valid",
            "この証明書はまだ有効期間が始まっていません。",
            "This certificate is not valid yet.",
        )
    if now > certificate.not_valid_after_utc:
        raise refusal(
            "certificate_expired",
            "電子証明書の有効期限が切れています。市区町村の窓口で更新してください。",
            "The certificate has expired. Renew it at your municipal office.",
        )
    if POLICY_BY_KIND[kind] not in _policy_oids(certificate):
        wanted_ja = "利用者証明用電子証明書" if kind == "auth" else "署名用電子証明書"
        wanted_en = "user-authentication certificate" if kind == "auth" else "signature certificate"
        raise refusal(
            "wrong_certificate_kind",
            f"{wanted_ja}で署名してください。",
            f"Please sign with the {wanted_en}.",
        )
    if not isinstance(certificate.public_key(), rsa.RSAPublicKey):
        raise refusal("unsupported_key", "対応していない鍵の種類です。", "This key type is not supported.")
    if is_revoked(certificate.serial_number):
        raise refusal(
            "certificate_revoked",
            "この電子証明書は失効しています。市区町村の窓口にお問い合わせください。",
            "This certificate has been revoked. Please contact your municipal office.",
        )


def _der_utf8(value: bytes) -> str:
    """Decodes a DER UTF8String (the otherName values in the signature certificate)."""
    if len(value) < 2 or value[0] != 0x0C:
        raise ValueError("not a UTF8String")
    length = value[1]
    offset = 2
    if length & 0x80:
        count = length & 0x7F
        length = int.from_bytes(value[2 : 2 + count], "big")
        offset = 2 + count
    return value[offset : offset + length].decode("utf-8")


def identity_from_certificate(certificate: x509.Certificate) -> CardIdentity:
    try:
        names = certificate.extensions.get_extension_for_oid(ExtensionOID.SUBJECT_ALTERNATIVE_NAME).value
        found: dict[str, str] = {}
        for other in names.get_values_for_type(x509.OtherName):
            field = ATTRIBUTE_OIDS.get(other.type_id.dotted_string)
            if field:
                found[field] = _der_utf8(other.value)
        birth = found["birth_date"]
        return CardIdentity(
            name=found["name"],
            name_kana=found["name_kana"],
            birth_date=date(int(birth[:4]), int(birth[4:6]), int(birth[6:8])),
            sex=found["sex"],
            address=found["address"],
        )
    except (x509.ExtensionNotFound, KeyError, ValueError) as exc:
        raise refusal(
            "certificate_attributes_missing",
            "署名用電子証明書から基本4情報を読み取れませんでした。",
            "The signature certificate does not carry the expected personal attributes.",
        ) from exc


# --- the JWS -----------------------------------------------------------------------------------------


def _b64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _malformed() -> PortalError:
    return refusal(
        "malformed_signature", "署名データの形式が正しくありません。", "The signed data is malformed."
    )


def verify_signature(jws: str, *, kind: str) -> VerifiedSignature:
    """Checks a compact JWS from the card app; returns the certificate and payload only if all holds."""
    if not isinstance(jws, str) or len(jws) > MAX_JWS_BYTES or jws.count(".") != 2:
        raise _malformed()
    header_b64, payload_b64, signature_b64 = jws.split(".")
    try:
        header = json.loads(_b64url(header_b64))
        payload = json.loads(_b64url(payload_b64))
        signature = _b64url(signature_b64)
        certificate = x509.load_der_x509_certificate(base64.b64decode(header["x5c"][0], validate=True))
    except (ValueError, KeyError, IndexError, TypeError) as exc:
        raise _malformed() from exc
    if header.get("alg") != "RS256" or not isinstance(payload, dict):
        raise _malformed()
    verify_certificate(certificate, kind=kind)
    try:
        certificate.public_key().verify(  # type: ignore[call-arg]
            signature,
            f"{header_b64}.{payload_b64}".encode(),
            padding.PKCS1v15(),
            hashes.SHA256(),
        )
    except InvalidSignature as exc:
        raise refusal(
            "bad_signature",
            "署名を検証できませんでした。改ざんされている可能性があります。",
            "The signature does not verify; the data may have been tampered with.",
        ) from exc
    return VerifiedSignature(
        certificate=certificate, kind=kind, serial_hash=certificate_serial_hash(certificate), payload=payload
    )
