"""The test CA issues certificates and CRLs exactly as docs/contracts.md ("The card") describes."""

from __future__ import annotations

import datetime as dt
import re
import stat
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from simulators.ca import (
    DEFAULT_CRL_URL,
    TestCA,
    certificate_kind,
    generate_key,
    oids,
    read_personal_attributes,
)
from simulators.ca.der import decode_utf8string, encode_utf8string

PERSON: dict[str, Any] = {
    "id": "yamada-hanako",
    "name": "山田 花子",
    "name_kana": "ヤマダ ハナコ",
    "name_roman": "YAMADA HANAKO",
    "birth_date": "1985-07-07",
    "sex": "2",
    "address": "東京都千代田区永田町一丁目6番1号",
}


@pytest.fixture(scope="module")
def ca() -> TestCA:
    return TestCA.create()


@pytest.fixture(scope="module")
def key() -> rsa.RSAPrivateKey:
    return generate_key()


def _ext(certificate: x509.Certificate, cls: type) -> Any:
    return certificate.extensions.get_extension_for_class(cls).value


def _subject(certificate: x509.Certificate, oid: x509.ObjectIdentifier) -> str:
    return str(certificate.subject.get_attributes_for_oid(oid)[0].value)


def test_ca_certificate_is_an_rsa2048_sha256_root(ca: TestCA) -> None:
    cert = ca.certificate
    assert cert.subject == cert.issuer
    assert _subject(cert, NameOID.COMMON_NAME) == "JPKI Demo CA"
    assert _subject(cert, NameOID.COUNTRY_NAME) == "JP"
    assert isinstance(cert.signature_hash_algorithm, hashes.SHA256)
    assert ca.key.key_size == 2048
    constraints = _ext(cert, x509.BasicConstraints)
    assert constraints.ca is True
    assert _ext(cert, x509.KeyUsage).key_cert_sign and _ext(cert, x509.KeyUsage).crl_sign
    cert.verify_directly_issued_by(cert)


def test_auth_certificate_matches_the_contract(ca: TestCA, key: rsa.RSAPrivateKey) -> None:
    cert = ca.issue_auth_certificate(key.public_key())
    cert.verify_directly_issued_by(ca.certificate)
    assert _subject(cert, NameOID.COUNTRY_NAME) == "JP"
    assert _subject(cert, NameOID.ORGANIZATION_NAME) == "JPKI Demo"
    assert re.fullmatch(r"[0-9a-f]{32}", _subject(cert, NameOID.COMMON_NAME))
    assert len(cert.subject) == 3  # no personal data in the subject
    policies = [p.policy_identifier.dotted_string for p in _ext(cert, x509.CertificatePolicies)]
    assert policies == ["1.2.392.200149.8.5.1.3.30"]
    usage = _ext(cert, x509.KeyUsage)
    assert usage.digital_signature and not usage.content_commitment and not usage.key_cert_sign
    assert list(_ext(cert, x509.ExtendedKeyUsage)) == [ExtendedKeyUsageOID.CLIENT_AUTH]
    with pytest.raises(x509.ExtensionNotFound):
        cert.extensions.get_extension_for_class(x509.SubjectAlternativeName)
    assert read_personal_attributes(cert) == {}
    assert certificate_kind(cert) == "auth"
    points = _ext(cert, x509.CRLDistributionPoints)
    assert [name.value for name in points[0].full_name] == [DEFAULT_CRL_URL]
    ca_ski = _ext(ca.certificate, x509.SubjectKeyIdentifier).digest
    assert _ext(cert, x509.AuthorityKeyIdentifier).key_identifier == ca_ski
    assert _ext(cert, x509.SubjectKeyIdentifier) == x509.SubjectKeyIdentifier.from_public_key(
        key.public_key()
    )
    assert _ext(cert, x509.BasicConstraints).ca is False
    lifetime = cert.not_valid_after_utc - cert.not_valid_before_utc
    assert dt.timedelta(days=5 * 365) <= lifetime <= dt.timedelta(days=5 * 366)
    assert isinstance(cert.signature_hash_algorithm, hashes.SHA256)


def test_auth_certificates_get_random_serials_and_names(ca: TestCA, key: rsa.RSAPrivateKey) -> None:
    first = ca.issue_auth_certificate(key.public_key())
    second = ca.issue_auth_certificate(key.public_key())
    assert first.serial_number != second.serial_number
    assert first.subject != second.subject
    assert first.serial_number.bit_length() > 64


def test_signature_certificate_matches_the_contract(ca: TestCA, key: rsa.RSAPrivateKey) -> None:
    cert = ca.issue_signature_certificate(key.public_key(), PERSON)
    cert.verify_directly_issued_by(ca.certificate)
    assert _subject(cert, NameOID.COMMON_NAME) == "YAMADA HANAKO"
    assert _subject(cert, NameOID.ORGANIZATION_NAME) == "JPKI Demo"
    policies = [p.policy_identifier.dotted_string for p in _ext(cert, x509.CertificatePolicies)]
    assert policies == ["1.2.392.200149.8.5.1.1.10"]
    usage = _ext(cert, x509.KeyUsage)
    assert usage.digital_signature and usage.content_commitment
    with pytest.raises(x509.ExtensionNotFound):
        cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage)
    san = _ext(cert, x509.SubjectAlternativeName)
    raw = {other.type_id.dotted_string: other.value for other in san.get_values_for_type(x509.OtherName)}
    assert raw == {
        "1.2.392.200149.8.5.5.1": encode_utf8string("山田 花子"),
        "1.2.392.200149.8.5.5.2": encode_utf8string("ヤマダ ハナコ"),
        "1.2.392.200149.8.5.5.3": encode_utf8string("2"),
        "1.2.392.200149.8.5.5.4": encode_utf8string("19850707"),
        "1.2.392.200149.8.5.5.5": encode_utf8string("東京都千代田区永田町一丁目6番1号"),
    }
    assert all(value[0] == 0x0C for value in raw.values())  # DER UTF8String tag
    assert read_personal_attributes(cert) == {
        "name": "山田 花子",
        "name_kana": "ヤマダ ハナコ",
        "sex": "2",
        "birth_date": "19850707",
        "address": "東京都千代田区永田町一丁目6番1号",
    }
    assert certificate_kind(cert) == "signature"
    assert oids.SAN_ADDRESS.dotted_string == "1.2.392.200149.8.5.5.5"


def test_signature_certificate_rejects_bad_person_data(ca: TestCA, key: rsa.RSAPrivateKey) -> None:
    with pytest.raises(ValueError, match="birth_date"):
        ca.issue_signature_certificate(key.public_key(), {**PERSON, "birth_date": "7 July 1985"})
    with pytest.raises(ValueError, match="sex"):
        ca.issue_signature_certificate(key.public_key(), {**PERSON, "sex": "F"})


def test_long_address_uses_long_form_der_length() -> None:
    address = "東京都" * 60  # 540 bytes in UTF-8
    der = encode_utf8string(address)
    assert der[1] == 0x82 and int.from_bytes(der[2:4], "big") == len(address.encode())
    assert decode_utf8string(der) == address
    for bad in (b"", b"\x13\x01a", b"\x0c\x05ab", b"\x0c\x80"):
        with pytest.raises(ValueError):
            decode_utf8string(bad)


def test_crl_url_comes_from_parameter_or_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CA_CRL_URL", "http://crl.example.test/a.der")
    from_env = TestCA.create()
    explicit = TestCA.create(crl_url="http://other.example.test/b.der", key=from_env.key)
    for ca, url in (
        (from_env, "http://crl.example.test/a.der"),
        (explicit, "http://other.example.test/b.der"),
    ):
        cert = ca.issue_auth_certificate(generate_key().public_key())
        points = _ext(cert, x509.CRLDistributionPoints)
        assert points[0].full_name[0].value == url


def test_tests_can_issue_expired_and_wrong_policy_certificates(ca: TestCA, key: rsa.RSAPrivateKey) -> None:
    start = dt.datetime(2020, 1, 1, tzinfo=dt.UTC)
    expired = ca.issue_auth_certificate(
        key.public_key(), not_before=start, not_after=start + dt.timedelta(days=1)
    )
    assert expired.not_valid_after_utc == start + dt.timedelta(days=1)
    wrong = ca.issue_auth_certificate(key.public_key(), policy_oid=oids.POLICY_SIGNATURE)
    assert certificate_kind(wrong) == "signature"


def test_crl_lists_revoked_serials_and_verifies_with_the_ca_key(ca: TestCA, key: rsa.RSAPrivateKey) -> None:
    revoked = ca.issue_auth_certificate(key.public_key())
    lost = ca.issue_signature_certificate(key.public_key(), PERSON)
    good = ca.issue_auth_certificate(key.public_key())
    ca.revoke(revoked)
    ca.revoke(lost.serial_number, x509.ReasonFlags.key_compromise)
    ca.revoke(lost)  # revoking twice changes nothing
    first = ca.crl()
    second = ca.crl(next_update=dt.timedelta(hours=2))
    for crl in (first, second):
        assert crl.is_signature_valid(ca.key.public_key())
        assert isinstance(crl.signature_hash_algorithm, hashes.SHA256)
        assert crl.issuer == ca.certificate.subject
        assert crl.get_revoked_certificate_by_serial_number(revoked.serial_number) is not None
        assert crl.get_revoked_certificate_by_serial_number(good.serial_number) is None
    entry = first.get_revoked_certificate_by_serial_number(lost.serial_number)
    assert entry is not None
    assert (
        entry.extensions.get_extension_for_class(x509.CRLReason).value.reason
        == x509.ReasonFlags.key_compromise
    )
    assert not first.is_signature_valid(generate_key().public_key())
    first_number = first.extensions.get_extension_for_class(x509.CRLNumber).value.crl_number
    second_number = second.extensions.get_extension_for_class(x509.CRLNumber).value.crl_number
    assert second_number == first_number + 1
    assert first.next_update_utc is not None and first.last_update_utc is not None
    assert dt.timedelta(hours=23) < first.next_update_utc - dt.datetime.now(dt.UTC) <= dt.timedelta(days=1)
    assert second.next_update_utc is not None
    assert second.next_update_utc - dt.datetime.now(dt.UTC) <= dt.timedelta(hours=2)
    assert ca.is_revoked(revoked) and not ca.is_revoked(good)


def test_save_load_and_load_or_create(tmp_path: Path) -> None:
    data_dir = tmp_path / "ca"
    ca = TestCA.load_or_create(data_dir)
    cert = ca.issue_auth_certificate(generate_key().public_key())
    ca.revoke(cert)
    ca.save(data_dir)
    assert stat.S_IMODE((data_dir / "ca-key.pem").stat().st_mode) == 0o600
    for name in ("ca-cert.pem", "crl.der", "index.json"):
        assert (data_dir / name).exists()
    crl = x509.load_der_x509_crl((data_dir / "crl.der").read_bytes())
    assert crl.get_revoked_certificate_by_serial_number(cert.serial_number) is not None
    assert crl.is_signature_valid(ca.certificate.public_key())

    again = TestCA.load_or_create(data_dir)
    assert again.certificate == ca.certificate
    assert again.is_revoked(cert.serial_number)
    assert format(cert.serial_number, "x") in again.issued
    number = again.crl().extensions.get_extension_for_class(x509.CRLNumber).value.crl_number
    assert number > crl.extensions.get_extension_for_class(x509.CRLNumber).value.crl_number
    with pytest.raises(FileNotFoundError):
        TestCA.load(tmp_path / "nothing-here")
