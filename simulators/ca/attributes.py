"""Reading a card certificate back: its kind (by policy OID) and the signature certificate's personal data.

The simulators and tests use this; the portal keeps its own parser, as the contract requires.
"""

from __future__ import annotations

from typing import Literal

from cryptography import x509

from simulators.ca.der import decode_utf8string
from simulators.ca.oids import PERSONAL_ATTRIBUTE_OIDS, POLICY_AUTH, POLICY_SIGNATURE


def certificate_kind(certificate: x509.Certificate) -> Literal["auth", "signature"] | None:
    """``"auth"`` or ``"signature"`` from the CertificatePolicies extension, None for anything else."""
    try:
        policies = certificate.extensions.get_extension_for_class(x509.CertificatePolicies).value
    except x509.ExtensionNotFound:
        return None
    oids = {policy.policy_identifier for policy in policies}
    if POLICY_SIGNATURE in oids:
        return "signature"
    if POLICY_AUTH in oids:
        return "auth"
    return None


def read_personal_attributes(certificate: x509.Certificate) -> dict[str, str]:
    """The personal attributes of a signature certificate.

    Returns ``{"name", "name_kana", "sex", "birth_date" (YYYYMMDD), "address"}`` for those present; an
    empty dict for a certificate without them (the authentication certificate).
    """
    try:
        san = certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return {}
    by_oid = {oid: key for key, oid in PERSONAL_ATTRIBUTE_OIDS.items()}
    result: dict[str, str] = {}
    for other in san.get_values_for_type(x509.OtherName):
        key = by_oid.get(other.type_id)
        if key is not None:
            result[key] = decode_utf8string(other.value)
    return result
