"""The card on its own: PIN/password counters, lockout, request checks and the JWS it produces."""

from __future__ import annotations

import datetime as dt
import time
from typing import Any

import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from joserfc import jws
from joserfc.jwk import RSAKey
from joserfc.jws import JWSRegistry

from simulators.ca import read_personal_attributes
from simulators.cardapp import (
    CardLocked,
    CardStore,
    InvalidSecretFormat,
    NoSignatureCertificate,
    RequestError,
    RequestExpired,
    UnknownCard,
    WrongSecret,
)
from simulators.cardapp.card import check_secret, hash_secret
from tests.simulators.cardapp.helpers import make_request, verify_jws

RESPONSE_URL = "http://127.0.0.1:8000/signing/1/response/"


def login_request(**overrides: Any) -> dict[str, Any]:
    return make_request(RESPONSE_URL, **overrides)


def signature_request(**overrides: Any) -> dict[str, Any]:
    return make_request(RESPONSE_URL, kind="stepup", certificate="signature", **overrides)


def test_secret_hash_is_salted_and_checked() -> None:
    first, second = hash_secret("1234"), hash_secret("1234")
    assert first != second and first.startswith("scrypt$")
    assert "1234" not in first
    assert check_secret("1234", first) and check_secret("1234", second)
    assert not check_secret("1235", first)


def test_pin_locks_after_three_wrong_entries(store: CardStore) -> None:
    card = store.get("yamada-hanako")
    for left in (2, 1):
        with pytest.raises(WrongSecret) as wrong:
            card.sign(login_request(), "0000")
        assert wrong.value.tries_left == left
        assert f"残り試行回数は{left}回" in wrong.value.message["ja"]
        assert f"{left} {'try' if left == 1 else 'tries'} left" in wrong.value.message["en"]
    with pytest.raises(CardLocked) as locked:
        card.sign(login_request(), "0000")
    assert "ロックされています" in locked.value.message["ja"] and "窓口" in locked.value.message["ja"]
    assert "locked" in locked.value.message["en"] and "municipal office" in locked.value.message["en"]
    # Once locked, even the right PIN is refused until the municipal office resets the card.
    with pytest.raises(CardLocked):
        card.sign(login_request(), "1234")
    state = store.get("yamada-hanako")
    assert state.auth_locked and state.pin_tries_left == 0
    assert not state.signature_locked  # the signature certificate has its own counter
    verify_jws(card.sign(signature_request(), "ABC123"))
    store.reset("yamada-hanako")
    verify_jws(card.sign(login_request(), "1234"))


def test_correct_pin_restores_the_counter(store: CardStore) -> None:
    card = store.get("yamada-hanako")
    with pytest.raises(WrongSecret):
        card.sign(login_request(), "9999")
    assert store.get("yamada-hanako").pin_tries_left == 2
    card.sign(login_request(), "1234")
    assert store.get("yamada-hanako").pin_tries_left == 3


def test_password_locks_after_five_wrong_entries(store: CardStore) -> None:
    card = store.get("yamada-hanako")
    for left in (4, 3, 2, 1):
        with pytest.raises(WrongSecret) as wrong:
            card.sign(signature_request(), "WRONG1")
        assert wrong.value.tries_left == left
        assert "パスワードが違います" in wrong.value.message["ja"]
    with pytest.raises(CardLocked) as locked:
        card.sign(signature_request(), "WRONG1")
    assert "署名用電子証明書" in locked.value.message["ja"]
    with pytest.raises(CardLocked):
        card.sign(signature_request(), "ABC123")
    state = store.get("yamada-hanako")
    assert state.signature_locked and state.password_tries_left == 0 and not state.auth_locked


def test_password_counter_resets_on_success_and_accepts_lower_case(store: CardStore) -> None:
    card = store.get("yamada-hanako")
    with pytest.raises(WrongSecret):
        card.sign(signature_request(), "WRONG1")
    assert store.get("yamada-hanako").password_tries_left == 4
    verify_jws(card.sign(signature_request(), "abc123"))
    assert store.get("yamada-hanako").password_tries_left == 5


@pytest.mark.parametrize("pin", ["12a4", "123", "12345", "", "１２３４", "12 34"])
def test_malformed_pin_is_refused_without_costing_a_try(store: CardStore, pin: str) -> None:
    with pytest.raises(InvalidSecretFormat) as error:
        store.get("yamada-hanako").sign(login_request(), pin)
    assert "4桁" in error.value.message["ja"] and "4 digits" in error.value.message["en"]
    assert store.get("yamada-hanako").pin_tries_left == 3


@pytest.mark.parametrize("password", ["ABC12", "A" * 17, "ABC-123", "ＡＢＣ１２３"])
def test_malformed_password_is_refused_without_costing_a_try(store: CardStore, password: str) -> None:
    with pytest.raises(InvalidSecretFormat):
        store.get("yamada-hanako").sign(signature_request(), password)
    assert store.get("yamada-hanako").password_tries_left == 5


def test_unknown_card(store: CardStore) -> None:
    with pytest.raises(UnknownCard) as error:
        store.get("nobody")
    assert "nobody" in error.value.message["en"] and "登録されていません" in error.value.message["ja"]
    with pytest.raises(UnknownCard):
        store.reset("nobody")


def test_child_card_has_no_signature_certificate(store: CardStore) -> None:
    card = store.get("sato-haruto")
    assert not card.has_signature and card.signature_key is None
    with pytest.raises(NoSignatureCertificate) as error:
        card.sign(signature_request(), "ABC123")
    assert "15歳未満" in error.value.message["ja"]
    verify_jws(card.sign(login_request(), "1234"))  # the auth certificate works


def test_expired_request_is_refused_before_the_pin_is_checked(store: CardStore) -> None:
    past = (dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1)).isoformat()
    with pytest.raises(RequestExpired) as error:
        store.get("yamada-hanako").sign(login_request(expires_at=past), "0000")
    assert "有効期限" in error.value.message["ja"] and "expired" in error.value.message["en"]
    assert store.get("yamada-hanako").pin_tries_left == 3


@pytest.mark.parametrize(
    ("overrides", "reason"),
    [
        ({"kind": "delete-everything"}, "unknown kind"),
        ({"certificate": "encryption"}, "unknown certificate"),
        ({"summary_sha256": "0" * 64}, "summary_sha256"),
        ({"nonce": ""}, "'nonce'"),
        ({"attributes_requested": ["my_number"]}, "other than register"),
        ({"kind": "register", "attributes_requested": ["address"]}, "unknown attributes"),
        ({"expires_at": "tomorrow"}, "expires_at"),
        ({"expires_at": "2099-01-01T00:00:00"}, "time zone"),
        ({"summary": {"ja": "x"}}, "summary"),
    ],
)
def test_malformed_requests_are_refused(store: CardStore, overrides: dict[str, Any], reason: str) -> None:
    request = login_request(**overrides)
    with pytest.raises(RequestError) as error:
        store.get("yamada-hanako").sign(request, "1234")
    assert reason in error.value.message["en"]
    assert "形式が正しくありません" in error.value.message["ja"]
    assert store.get("yamada-hanako").pin_tries_left == 3


def test_login_jws_matches_the_contract(store: CardStore) -> None:
    card = store.get("yamada-hanako")
    request = login_request()
    before = int(time.time())
    token = card.sign(request, "1234")
    header, payload, certificate = verify_jws(token)
    assert header == {"alg": "RS256", "typ": "jpki-sig", "x5c": header["x5c"]} and len(header["x5c"]) == 1
    assert list(header) == ["alg", "typ", "x5c"]
    assert certificate == card.auth_certificate
    assert before <= payload.pop("iat") <= int(time.time())
    assert payload == {
        "req": request["id"],
        "nonce": request["nonce"],
        "kind": "login",
        "summary_sha256": request["summary_sha256"],
        "attrs": {},
    }
    # An independent JOSE implementation agrees.
    pem = certificate.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    # joserfc caps headers at 512 bytes by default; an x5c certificate needs more.
    registry = JWSRegistry(algorithms=["RS256"])
    registry.max_header_length = 8192
    decoded = jws.deserialize_compact(token, RSAKey.import_key(pem), registry=registry)
    assert decoded.headers()["typ"] == "jpki-sig"


def test_register_jws_carries_my_number_and_signature_certificate(store: CardStore) -> None:
    card = store.get("yamada-hanako")
    request = make_request(
        RESPONSE_URL, kind="register", certificate="signature", attributes_requested=["my_number"]
    )
    _header, payload, certificate = verify_jws(card.sign(request, "ABC123"))
    assert payload["attrs"] == {"my_number": "526018159084"}
    assert payload["kind"] == "register"
    assert certificate == card.signature_certificate
    assert read_personal_attributes(certificate)["name"] == "山田 花子"


def test_tampered_jws_does_not_verify(store: CardStore) -> None:
    token = store.get("yamada-hanako").sign(login_request(), "1234")
    header, payload, signature = token.split(".")
    forged = f"{header}.{payload[:-2]}{'A' if payload[-2] != 'A' else 'B'}{payload[-1]}.{signature}"
    with pytest.raises(InvalidSignature):
        verify_jws(forged)
