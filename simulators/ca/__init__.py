"""Test certification authority of the demo (a stand-in for J-LIS), built with `cryptography`.

Public API::

    from simulators.ca import TestCA, generate_key, read_personal_attributes, certificate_kind, oids
"""

from simulators.ca import oids
from simulators.ca.attributes import certificate_kind, read_personal_attributes
from simulators.ca.authority import (
    CERT_FILE,
    CRL_FILE,
    DEFAULT_CRL_URL,
    INDEX_FILE,
    KEY_FILE,
    TestCA,
    generate_key,
)

__all__ = [
    "CERT_FILE",
    "CRL_FILE",
    "DEFAULT_CRL_URL",
    "INDEX_FILE",
    "KEY_FILE",
    "TestCA",
    "certificate_kind",
    "generate_key",
    "oids",
    "read_personal_attributes",
]
