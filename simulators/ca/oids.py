"""Object identifiers of the JPKI-like demo certificates (see docs/contracts.md, "The card")."""

from __future__ import annotations

from cryptography.x509.oid import ObjectIdentifier

#: CertificatePolicies OID of the user-authentication certificate (利用者証明用電子証明書).
POLICY_AUTH = ObjectIdentifier("1.2.392.200149.8.5.1.3.30")
#: CertificatePolicies OID of the signature certificate (署名用電子証明書).
POLICY_SIGNATURE = ObjectIdentifier("1.2.392.200149.8.5.1.1.10")

#: SubjectAlternativeName otherName type ids carrying the holder's personal data.
SAN_NAME = ObjectIdentifier("1.2.392.200149.8.5.5.1")
SAN_NAME_KANA = ObjectIdentifier("1.2.392.200149.8.5.5.2")
SAN_SEX = ObjectIdentifier("1.2.392.200149.8.5.5.3")
SAN_BIRTH_DATE = ObjectIdentifier("1.2.392.200149.8.5.5.4")
SAN_ADDRESS = ObjectIdentifier("1.2.392.200149.8.5.5.5")

#: Attribute key (as used in people.json and by :func:`read_personal_attributes`) -> otherName OID.
PERSONAL_ATTRIBUTE_OIDS: dict[str, ObjectIdentifier] = {
    "name": SAN_NAME,
    "name_kana": SAN_NAME_KANA,
    "sex": SAN_SEX,
    "birth_date": SAN_BIRTH_DATE,
    "address": SAN_ADDRESS,
}
