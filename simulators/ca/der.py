"""Minimal DER encoding of the UTF8String values carried in the SAN otherNames.

`cryptography` stores an otherName's value as raw DER, so the CA encodes and the reader decodes that one
primitive itself; nothing else in ASN.1 is needed.
"""

from __future__ import annotations

UTF8STRING_TAG = 0x0C


def _encode_length(length: int) -> bytes:
    if length < 0x80:
        return bytes([length])
    body = length.to_bytes((length.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(body)]) + body


def encode_utf8string(value: str) -> bytes:
    """DER UTF8String of ``value`` (long-form length when over 127 bytes, e.g. long addresses)."""
    data = value.encode("utf-8")
    return bytes([UTF8STRING_TAG]) + _encode_length(len(data)) + data


def decode_utf8string(der: bytes) -> str:
    """Inverse of :func:`encode_utf8string`; raises ValueError on anything else."""
    if len(der) < 2 or der[0] != UTF8STRING_TAG:
        raise ValueError("not a DER UTF8String")
    first = der[1]
    if first < 0x80:
        length, start = first, 2
    else:
        count = first & 0x7F
        if count == 0 or count > 4 or len(der) < 2 + count:
            raise ValueError("bad DER length")
        length, start = int.from_bytes(der[2 : 2 + count], "big"), 2 + count
    if len(der) != start + length:
        raise ValueError("DER length does not match the value")
    return der[start:].decode("utf-8")
