"""The demo's test certification authority: issues JPKI-like card certificates and publishes a CRL.

It stands in for J-LIS. The portal trusts ``ca-cert.pem`` and checks certificates against the CRL; the
portal's tests import :class:`TestCA` to make good and bad certificates of their own.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import secrets
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID, ObjectIdentifier

from simulators.ca.der import encode_utf8string
from simulators.ca.oids import PERSONAL_ATTRIBUTE_OIDS, POLICY_AUTH, POLICY_SIGNATURE

DEFAULT_CRL_URL = "http://127.0.0.1:8002/ca/crl.der"
CERT_VALIDITY = dt.timedelta(days=5 * 365)
CA_VALIDITY = dt.timedelta(days=10 * 365)
# Backdating absorbs small clock differences between the CA and the portal.
BACKDATE = dt.timedelta(minutes=5)

KEY_FILE = "ca-key.pem"
CERT_FILE = "ca-cert.pem"
CRL_FILE = "crl.der"
INDEX_FILE = "index.json"

__all__ = [
    "CERT_FILE",
    "CRL_FILE",
    "DEFAULT_CRL_URL",
    "INDEX_FILE",
    "KEY_FILE",
    "TestCA",
    "generate_key",
]


def generate_key() -> rsa.RSAPrivateKey:
    """A fresh RSA 2048 key, the size the contract fixes for the CA and for card keys."""
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _serial_hex(serial: int) -> str:
    return format(serial, "x")


def _jpki_name(common_name: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "JP"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "JPKI Demo"),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )


def _birth_date_yyyymmdd(value: str) -> str:
    digits = value.replace("-", "")
    if len(digits) != 8 or not digits.isdigit():
        raise ValueError(f"birth_date must be YYYY-MM-DD or YYYYMMDD, got {value!r}")
    return digits


def _write_atomic(path: Path, data: bytes, mode: int = 0o644) -> None:
    # Write to a temporary file and rename, so a reader (the CRL endpoint) never sees half a file.
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        os.fchmod(fd, mode)
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


@dataclass
class TestCA:
    """A root CA with its key, the register of what it issued and revoked, and a CRL counter."""

    # pytest would otherwise try to collect this class because of its name.
    __test__ = False

    key: rsa.RSAPrivateKey
    certificate: x509.Certificate
    crl_url: str = DEFAULT_CRL_URL
    issued: dict[str, dict[str, Any]] = field(default_factory=dict)
    revoked: dict[str, dict[str, Any]] = field(default_factory=dict)
    crl_number: int = 0

    # ----- creation and storage -------------------------------------------------------------------

    @staticmethod
    def _crl_url(crl_url: str | None) -> str:
        return crl_url or os.environ.get("CA_CRL_URL") or DEFAULT_CRL_URL

    @classmethod
    def create(
        cls,
        common_name: str = "JPKI Demo CA",
        *,
        key: rsa.RSAPrivateKey | None = None,
        not_before: dt.datetime | None = None,
        not_after: dt.datetime | None = None,
        crl_url: str | None = None,
    ) -> TestCA:
        """A new self-signed root (RSA 2048, SHA-256). ``crl_url`` defaults to env ``CA_CRL_URL``."""
        key = key or generate_key()
        name = _jpki_name(common_name)
        start = not_before or _now() - BACKDATE
        end = not_after or start + CA_VALIDITY
        public = key.public_key()
        certificate = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(public)
            .serial_number(x509.random_serial_number())
            .not_valid_before(start)
            .not_valid_after(end)
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=False,
                    content_commitment=False,
                    key_encipherment=False,
                    data_encipherment=False,
                    key_agreement=False,
                    key_cert_sign=True,
                    crl_sign=True,
                    encipher_only=False,
                    decipher_only=False,
                ),
                critical=True,
            )
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), critical=False)
            .sign(key, hashes.SHA256())
        )
        return cls(key=key, certificate=certificate, crl_url=cls._crl_url(crl_url))

    @classmethod
    def load(cls, data_dir: str | os.PathLike[str], *, crl_url: str | None = None) -> TestCA:
        """Load a CA saved by :meth:`save`; raises FileNotFoundError when there is none."""
        base = Path(data_dir)
        key = serialization.load_pem_private_key((base / KEY_FILE).read_bytes(), password=None)
        if not isinstance(key, rsa.RSAPrivateKey):
            raise ValueError("the CA key is not an RSA key")
        certificate = x509.load_pem_x509_certificate((base / CERT_FILE).read_bytes())
        index_path = base / INDEX_FILE
        index: dict[str, Any] = json.loads(index_path.read_text("utf-8")) if index_path.exists() else {}
        return cls(
            key=key,
            certificate=certificate,
            crl_url=cls._crl_url(crl_url),
            issued=dict(index.get("issued", {})),
            revoked=dict(index.get("revoked", {})),
            crl_number=int(index.get("crl_number", 0)),
        )

    @classmethod
    def load_or_create(cls, data_dir: str | os.PathLike[str], *, crl_url: str | None = None) -> TestCA:
        """Load the CA in ``data_dir``, or create and save a new one there."""
        base = Path(data_dir)
        if (base / KEY_FILE).exists() and (base / CERT_FILE).exists():
            return cls.load(base, crl_url=crl_url)
        ca = cls.create(crl_url=crl_url)
        ca.save(base)
        return ca

    def save(self, data_dir: str | os.PathLike[str]) -> Path:
        """Write ca-key.pem (0600), ca-cert.pem, index.json and a freshly signed crl.der."""
        base = Path(data_dir)
        base.mkdir(parents=True, exist_ok=True)
        key_pem = self.key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        _write_atomic(base / KEY_FILE, key_pem, mode=0o600)
        _write_atomic(base / CERT_FILE, self.certificate_pem())
        # The CRL number must be saved after it is incremented, so sign the CRL first.
        crl = self.crl()
        index = {"crl_number": self.crl_number, "issued": self.issued, "revoked": self.revoked}
        _write_atomic(base / INDEX_FILE, json.dumps(index, indent=1, ensure_ascii=False).encode("utf-8"))
        _write_atomic(base / CRL_FILE, crl.public_bytes(serialization.Encoding.DER))
        return base

    def certificate_pem(self) -> bytes:
        return self.certificate.public_bytes(serialization.Encoding.PEM)

    # ----- issuing ---------------------------------------------------------------------------------

    def _issue(
        self,
        public_key: rsa.RSAPublicKey,
        *,
        subject: x509.Name,
        kind: str,
        policy_oid: ObjectIdentifier,
        non_repudiation: bool,
        client_auth: bool,
        other_names: list[x509.OtherName],
        not_before: dt.datetime | None,
        not_after: dt.datetime | None,
    ) -> x509.Certificate:
        start = not_before or _now() - BACKDATE
        end = not_after or start + CERT_VALIDITY
        ca_ski = self.certificate.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
        builder = (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(self.certificate.subject)
            .public_key(public_key)
            .serial_number(x509.random_serial_number())
            .not_valid_before(start)
            .not_valid_after(end)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=True,
                    content_commitment=non_repudiation,
                    key_encipherment=False,
                    data_encipherment=False,
                    key_agreement=False,
                    key_cert_sign=False,
                    crl_sign=False,
                    encipher_only=False,
                    decipher_only=False,
                ),
                critical=True,
            )
            .add_extension(
                x509.CertificatePolicies([x509.PolicyInformation(policy_oid, None)]), critical=False
            )
            .add_extension(
                x509.CRLDistributionPoints(
                    [
                        x509.DistributionPoint(
                            full_name=[x509.UniformResourceIdentifier(self.crl_url)],
                            relative_name=None,
                            reasons=None,
                            crl_issuer=None,
                        )
                    ]
                ),
                critical=False,
            )
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ca_ski), critical=False
            )
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
        )
        if client_auth:
            builder = builder.add_extension(
                x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False
            )
        if other_names:
            builder = builder.add_extension(x509.SubjectAlternativeName(other_names), critical=False)
        certificate = builder.sign(self.key, hashes.SHA256())
        self.issued[_serial_hex(certificate.serial_number)] = {
            "kind": kind,
            "subject": certificate.subject.rfc4514_string(),
            "not_after": certificate.not_valid_after_utc.isoformat(),
        }
        return certificate

    def issue_auth_certificate(
        self,
        public_key: rsa.RSAPublicKey,
        *,
        not_before: dt.datetime | None = None,
        not_after: dt.datetime | None = None,
        policy_oid: ObjectIdentifier = POLICY_AUTH,
    ) -> x509.Certificate:
        """User-authentication certificate: random CN, no personal data, clientAuth.

        ``policy_oid`` exists so tests can make a certificate of the wrong kind.
        """
        return self._issue(
            public_key,
            subject=_jpki_name(secrets.token_hex(16)),
            kind="auth",
            policy_oid=policy_oid,
            non_repudiation=False,
            client_auth=True,
            other_names=[],
            not_before=not_before,
            not_after=not_after,
        )

    def issue_signature_certificate(
        self,
        public_key: rsa.RSAPublicKey,
        person: Mapping[str, Any],
        *,
        not_before: dt.datetime | None = None,
        not_after: dt.datetime | None = None,
        policy_oid: ObjectIdentifier = POLICY_SIGNATURE,
    ) -> x509.Certificate:
        """Signature certificate: CN=name_roman and the five personal attributes as SAN otherNames.

        ``person`` is a people.json entry (``birth_date`` as YYYY-MM-DD or YYYYMMDD).
        """
        values = {
            "name": str(person["name"]),
            "name_kana": str(person["name_kana"]),
            "sex": str(person["sex"]),
            "birth_date": _birth_date_yyyymmdd(str(person["birth_date"])),
            "address": str(person["address"]),
        }
        if values["sex"] not in {"1", "2", "9"}:
            raise ValueError("sex must be '1', '2' or '9'")
        other_names = [
            x509.OtherName(PERSONAL_ATTRIBUTE_OIDS[key], encode_utf8string(value))
            for key, value in values.items()
        ]
        return self._issue(
            public_key,
            subject=_jpki_name(str(person["name_roman"])),
            kind="signature",
            policy_oid=policy_oid,
            non_repudiation=True,
            client_auth=False,
            other_names=other_names,
            not_before=not_before,
            not_after=not_after,
        )

    # ----- revocation ------------------------------------------------------------------------------

    def revoke(
        self,
        certificate_or_serial: x509.Certificate | int,
        reason: x509.ReasonFlags = x509.ReasonFlags.unspecified,
        *,
        when: dt.datetime | None = None,
    ) -> None:
        """Add a certificate to the revoked list (the next :meth:`crl` carries it). Idempotent."""
        serial = (
            certificate_or_serial.serial_number
            if isinstance(certificate_or_serial, x509.Certificate)
            else int(certificate_or_serial)
        )
        key = _serial_hex(serial)
        if key not in self.revoked:
            self.revoked[key] = {"revoked_at": (when or _now()).isoformat(), "reason": reason.value}

    def is_revoked(self, certificate_or_serial: x509.Certificate | int) -> bool:
        serial = (
            certificate_or_serial.serial_number
            if isinstance(certificate_or_serial, x509.Certificate)
            else int(certificate_or_serial)
        )
        return _serial_hex(serial) in self.revoked

    def crl(self, next_update: dt.timedelta = dt.timedelta(days=1)) -> x509.CertificateRevocationList:
        """A newly signed CRL (SHA-256) of every revoked serial, with the next CRL number."""
        self.crl_number += 1
        now = _now()
        ca_ski = self.certificate.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
        builder = (
            x509.CertificateRevocationListBuilder()
            .issuer_name(self.certificate.subject)
            .last_update(now - BACKDATE)
            .next_update(now + next_update)
            .add_extension(x509.CRLNumber(self.crl_number), critical=False)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ca_ski), critical=False
            )
        )
        for serial_hex, info in sorted(self.revoked.items()):
            entry = (
                x509.RevokedCertificateBuilder()
                .serial_number(int(serial_hex, 16))
                .revocation_date(dt.datetime.fromisoformat(info["revoked_at"]))
            )
            reason = x509.ReasonFlags(info.get("reason", "unspecified"))
            # RFC 5280 says to omit the reason code rather than send "unspecified".
            if reason is not x509.ReasonFlags.unspecified:
                entry = entry.add_extension(x509.CRLReason(reason), critical=False)
            builder = builder.add_revoked_certificate(entry.build())
        return builder.sign(self.key, hashes.SHA256())
