"""The simulated My Number Card: its keys and certificates, PIN/password counters, and signing.

Cards live in SQLite (one row per card). A real card keeps its private keys inside the chip and counts
wrong entries itself; here the store plays the chip, so the counters are updated in one write transaction
each, which keeps the web app and the CLI from racing on the same card.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import json
import os
import secrets
import sqlite3
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from simulators.ca import TestCA, generate_key
from simulators.cardapp.errors import (
    CardLocked,
    InvalidSecretFormat,
    NoSignatureCertificate,
    RequestExpired,
    UnknownCard,
    WrongSecret,
)
from simulators.cardapp.jws import sign_compact
from simulators.cardapp.request import SigningRequest

PIN_TRIES = 3
PASSWORD_TRIES = 5

# scrypt at N=2**14 costs ~16 MiB and a few tens of ms: slow for guessing, fast enough for a demo of 8 cards.
_SCRYPT_N, _SCRYPT_R, _SCRYPT_P = 2**14, 8, 1

_SCHEMA = """
CREATE TABLE IF NOT EXISTS cards (
    id TEXT PRIMARY KEY,
    display_name TEXT NOT NULL,
    my_number TEXT NOT NULL,
    auth_key BLOB NOT NULL,
    auth_cert BLOB NOT NULL,
    sig_key BLOB,
    sig_cert BLOB,
    pin_hash TEXT NOT NULL,
    pin_tries INTEGER NOT NULL,
    auth_locked INTEGER NOT NULL DEFAULT 0,
    password_hash TEXT,
    password_tries INTEGER NOT NULL,
    sig_locked INTEGER NOT NULL DEFAULT 0,
    revoked INTEGER NOT NULL DEFAULT 0,
    text_ap TEXT
)
"""
# The card's text application (券面事項入力補助AP): the four basic facts as printed on the card, and the
# My Number; readable with the 4-digit PIN. Added after the first stores were made, hence the migration.
TEXT_AP_FIELDS = ("name", "birth_date", "sex", "address")


# ----- PIN / password ----------------------------------------------------------------------------------


def hash_secret(secret: str) -> str:
    """``scrypt$N$r$p$salt$hash`` of the secret, with a fresh random salt."""
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(secret.encode(), salt=salt, n=_SCRYPT_N, r=_SCRYPT_R, p=_SCRYPT_P, dklen=32)
    encoded = [base64.b64encode(x).decode("ascii") for x in (salt, digest)]
    return f"scrypt${_SCRYPT_N}${_SCRYPT_R}${_SCRYPT_P}${encoded[0]}${encoded[1]}"


def check_secret(secret: str, stored: str) -> bool:
    scheme, n, r, p, salt_b64, digest_b64 = stored.split("$")
    if scheme != "scrypt":
        raise ValueError("unknown secret hash scheme")
    expected = base64.b64decode(digest_b64)
    actual = hashlib.scrypt(
        secret.encode(), salt=base64.b64decode(salt_b64), n=int(n), r=int(r), p=int(p), dklen=len(expected)
    )
    return hmac.compare_digest(actual, expected)


def normalize_secret(certificate: str, secret: str) -> str:
    """Check the format the card accepts; raises InvalidSecretFormat (which costs no try) otherwise."""
    value = secret.strip()
    if certificate == "auth":
        if len(value) != 4 or not (value.isascii() and value.isdigit()):
            raise InvalidSecretFormat(
                "利用者証明用電子証明書の暗証番号は数字4桁で入力してください。",
                "Enter the user-authentication PIN as exactly 4 digits (0-9).",
            )
        return value
    # Phones show an upper-case keyboard for this password; accept lower case as the same letters.
    value = value.upper()
    if not (6 <= len(value) <= 16) or not (value.isascii() and value.isalnum()):
        raise InvalidSecretFormat(
            "署名用電子証明書のパスワードは英大文字（A〜Z）と数字で6〜16文字です。",
            "The signature password is 6 to 16 characters, letters A-Z and digits 0-9.",
        )
    return value


# ----- keys and certificates as stored -----------------------------------------------------------------


def _key_pem(key: rsa.RSAPrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def _load_key(pem: bytes) -> rsa.RSAPrivateKey:
    # The store wrote these keys itself; skipping the costly RSA consistency check makes loading a card fast.
    key = serialization.load_pem_private_key(pem, password=None, unsafe_skip_rsa_key_validation=True)
    assert isinstance(key, rsa.RSAPrivateKey)
    return key


def _cert_pem(certificate: x509.Certificate) -> bytes:
    return certificate.public_bytes(serialization.Encoding.PEM)


@dataclass(frozen=True)
class Card:
    """A snapshot of one card; :meth:`sign` goes through the store so the counters stay true."""

    store: CardStore
    id: str
    display_name: str
    my_number: str
    auth_key: rsa.RSAPrivateKey
    auth_certificate: x509.Certificate
    signature_key: rsa.RSAPrivateKey | None
    signature_certificate: x509.Certificate | None
    pin_tries_left: int
    auth_locked: bool
    password_tries_left: int
    signature_locked: bool
    revoked: bool
    text_ap: Mapping[str, str]

    @property
    def has_signature(self) -> bool:
        return self.signature_certificate is not None

    def certificate_for(self, kind: str) -> x509.Certificate | None:
        return self.auth_certificate if kind == "auth" else self.signature_certificate

    def sign(
        self, request: Mapping[str, Any] | SigningRequest, secret: str, *, now: dt.datetime | None = None
    ) -> str:
        """Unlock the certificate the request asks for with ``secret`` and return the compact JWS.

        Raises RequestError for a malformed request, and a CardError for an expired request, a card
        without that certificate, a locked certificate, a malformed secret or a wrong secret.
        """
        req = request if isinstance(request, SigningRequest) else SigningRequest.parse(dict(request))
        if req.is_expired(now):
            raise RequestExpired()
        if req.certificate == "signature" and not self.has_signature:
            raise NoSignatureCertificate()
        self.store.unlock(self.id, req.certificate, secret)
        if req.certificate == "auth":
            key, certificate = self.auth_key, self.auth_certificate
        else:
            assert self.signature_key is not None and self.signature_certificate is not None
            key, certificate = self.signature_key, self.signature_certificate
        readable = {"my_number": self.my_number, **self.text_ap}
        attrs = {name: readable[name] for name in req.attributes_requested if readable.get(name)}
        payload = {
            "req": req.id,
            "nonce": req.nonce,
            "kind": req.kind,
            "summary_sha256": req.summary_sha256,
            "iat": int(now.timestamp()) if now else int(time.time()),
            "attrs": attrs,
        }
        return sign_compact(key, certificate, payload)


class CardStore:
    """The cards in one SQLite file (created with mode 0600 in a 0700 folder: it holds private keys)."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        if not self.path.exists():
            os.close(os.open(self.path, os.O_CREAT | os.O_WRONLY, 0o600))
        with self._connect() as db:
            db.execute(_SCHEMA)
            columns = {row["name"] for row in db.execute("PRAGMA table_info(cards)")}
            if "text_ap" not in columns:
                db.execute("ALTER TABLE cards ADD COLUMN text_ap TEXT")

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        db = sqlite3.connect(self.path, timeout=30, isolation_level=None)
        db.row_factory = sqlite3.Row
        try:
            # IMMEDIATE takes the write lock up front: a counter read-then-update is never interleaved.
            db.execute("BEGIN IMMEDIATE")
            yield db
            db.execute("COMMIT")
        except BaseException:
            if db.in_transaction:
                db.execute("ROLLBACK")
            raise
        finally:
            db.close()

    def _card(self, row: sqlite3.Row) -> Card:
        return Card(
            store=self,
            id=row["id"],
            display_name=row["display_name"],
            my_number=row["my_number"],
            auth_key=_load_key(row["auth_key"]),
            auth_certificate=x509.load_pem_x509_certificate(row["auth_cert"]),
            signature_key=_load_key(row["sig_key"]) if row["sig_key"] else None,
            signature_certificate=x509.load_pem_x509_certificate(row["sig_cert"])
            if row["sig_cert"]
            else None,
            pin_tries_left=row["pin_tries"],
            auth_locked=bool(row["auth_locked"]),
            password_tries_left=row["password_tries"],
            signature_locked=bool(row["sig_locked"]),
            revoked=bool(row["revoked"]),
            text_ap=json.loads(row["text_ap"]) if row["text_ap"] else {},
        )

    def ids(self) -> list[str]:
        with self._connect() as db:
            return [row["id"] for row in db.execute("SELECT id FROM cards ORDER BY rowid")]

    def __contains__(self, card_id: object) -> bool:
        with self._connect() as db:
            return db.execute("SELECT 1 FROM cards WHERE id = ?", (card_id,)).fetchone() is not None

    def get(self, card_id: str) -> Card:
        with self._connect() as db:
            row = db.execute("SELECT * FROM cards WHERE id = ?", (card_id,)).fetchone()
        if row is None:
            raise UnknownCard(card_id)
        return self._card(row)

    def all(self) -> list[Card]:
        with self._connect() as db:
            rows = db.execute("SELECT * FROM cards ORDER BY rowid").fetchall()
        return [self._card(row) for row in rows]

    def issue_card(
        self,
        ca: TestCA,
        person: Mapping[str, Any],
        *,
        pin: str | None = None,
        password: str | None = None,
        signature: bool | None = None,
    ) -> Card:
        """Make (or replace) the card of a people.json entry: new keys, certificates from ``ca``.

        PIN, password and whether there is a signature certificate default to ``person["card"]``.
        """
        card_info = person.get("card") or {}
        pin = pin if pin is not None else card_info.get("pin", "1234")
        with_signature = bool(card_info.get("signature", True)) if signature is None else signature
        password = password if password is not None else card_info.get("password")
        normalize_secret("auth", pin)
        auth_key = generate_key()
        auth_cert = ca.issue_auth_certificate(auth_key.public_key())
        sig_key = sig_cert = None
        if with_signature:
            if not password:
                raise ValueError(f"card {person['id']!r} needs a password for its signature certificate")
            password = normalize_secret("signature", password)
            sig_key = generate_key()
            sig_cert = ca.issue_signature_certificate(sig_key.public_key(), person)
        row = (
            str(person["id"]),
            str(person["name"]),
            str(person.get("my_number", "")),
            _key_pem(auth_key),
            _cert_pem(auth_cert),
            _key_pem(sig_key) if sig_key else None,
            _cert_pem(sig_cert) if sig_cert else None,
            hash_secret(pin),
            PIN_TRIES,
            hash_secret(password) if sig_key and password else None,
            PASSWORD_TRIES,
            json.dumps({f: str(person[f]) for f in TEXT_AP_FIELDS if person.get(f)}, ensure_ascii=False),
        )
        with self._connect() as db:
            db.execute(
                "INSERT OR REPLACE INTO cards (id, display_name, my_number, auth_key, auth_cert, sig_key,"
                " sig_cert, pin_hash, pin_tries, password_hash, password_tries, text_ap)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                row,
            )
        return self.get(str(person["id"]))

    def unlock(self, card_id: str, certificate: str, secret: str) -> None:
        """Verify the PIN (auth) or password (signature) as the chip would, updating its counter.

        A correct entry restores the full count; a wrong one decrements it and locks at zero.
        """
        columns = {
            "auth": ("pin_hash", "pin_tries", "auth_locked", PIN_TRIES),
            "signature": ("password_hash", "password_tries", "sig_locked", PASSWORD_TRIES),
        }
        hash_col, tries_col, locked_col, full = columns[certificate]
        with self._connect() as db:
            row = db.execute(
                f"SELECT {hash_col}, {tries_col}, {locked_col} FROM cards WHERE id = ?",  # noqa: S608 (fixed columns)
                (card_id,),
            ).fetchone()
            if row is None:
                raise UnknownCard(card_id)
            if row[hash_col] is None:
                raise NoSignatureCertificate()
            if row[locked_col]:
                raise CardLocked(certificate)
            value = normalize_secret(certificate, secret)
            if check_secret(value, row[hash_col]):
                db.execute(f"UPDATE cards SET {tries_col} = ? WHERE id = ?", (full, card_id))  # noqa: S608
                return
            left = max(row[tries_col] - 1, 0)
            db.execute(
                f"UPDATE cards SET {tries_col} = ?, {locked_col} = ? WHERE id = ?",  # noqa: S608
                (left, int(left == 0), card_id),
            )
        # Raised after the commit above, so the decrement is kept.
        if left == 0:
            raise CardLocked(certificate)
        raise WrongSecret(certificate, left)

    def reset(self, card_id: str) -> Card:
        """Demo-only: what the municipal office does: unlock both certificates, restore the counters."""
        with self._connect() as db:
            updated = db.execute(
                "UPDATE cards SET pin_tries = ?, auth_locked = 0, password_tries = ?, sig_locked = 0"
                " WHERE id = ?",
                (PIN_TRIES, PASSWORD_TRIES, card_id),
            ).rowcount
        if not updated:
            raise UnknownCard(card_id)
        return self.get(card_id)

    def set_revoked(self, card_id: str, revoked: bool = True) -> None:
        with self._connect() as db:
            db.execute("UPDATE cards SET revoked = ? WHERE id = ?", (int(revoked), card_id))
