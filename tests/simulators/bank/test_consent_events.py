"""The portal's consent-ended notices: a JWT verified with the portal's keys, for this bank, kept once,
shown; anything else refused with 400 (or 415 for another content type)."""

from __future__ import annotations

import time

import pytest
from fastapi.testclient import TestClient
from joserfc import jwt
from joserfc.jwk import ECKey

from .conftest import consent_and_return
from .fake_portal import FakePortal

JWT = {"Content-Type": "application/jwt"}


def test_a_valid_notice_is_taken_and_shown(bank: TestClient, portal: FakePortal):
    response = bank.post("/consent-events", content=portal.consent_event(), headers=JWT)

    assert response.status_code == 204
    page = bank.get("/").text
    assert "c0a8f7e2-0000-4000-8000-000000000001" in page
    assert "ご本人が同意を取り消しました" in page and "the resident revoked it" in page


def test_the_notice_is_shown_on_the_application_of_that_subject(bank: TestClient, portal: FakePortal):
    consent_and_return(bank, portal)
    bank.post("/consent-events", content=portal.consent_event(sub="pairwise-sub-1"), headers=JWT)
    bank.post(
        "/consent-events",
        content=portal.consent_event(sub="someone-else", consent="other", reason="expired"),
        headers=JWT,
    )

    page = bank.get("/application").text

    assert "この同意が終了したと通知がありました" in page
    assert "ご本人が同意を取り消しました" in page
    assert "同意の期間が終わりました" not in page


def test_a_notice_sent_again_is_kept_once(bank: TestClient, portal: FakePortal):
    token = portal.consent_event()
    assert bank.post("/consent-events", content=token, headers=JWT).status_code == 204
    assert bank.post("/consent-events", content=portal.consent_event(), headers=JWT).status_code == 204
    assert len(bank.app.state.store.consent_events()) == 1


@pytest.mark.parametrize(
    "claims",
    [
        {"aud": "another-bank"},
        {"aud": None},
        {"event": "consent.granted"},
        {"reason": "bored"},
        {"consent": None},
        {"sub": None},
        {"ended_at": None},
        {"iss": "http://evil.test"},
        {"exp": 1000},
        {"consent": 12},
    ],
    ids=[
        "wrong-aud",
        "no-aud",
        "event",
        "reason",
        "no-consent",
        "no-sub",
        "no-ended_at",
        "iss",
        "exp",
        "int",
    ],
)
def test_a_notice_with_wrong_claims_is_refused(bank: TestClient, portal: FakePortal, claims):
    response = bank.post("/consent-events", content=portal.consent_event(**claims), headers=JWT)

    assert response.status_code == 400
    assert bank.app.state.store.consent_events() == []


def test_a_notice_signed_by_another_key_is_refused(bank: TestClient, portal: FakePortal):
    forged = ECKey.generate_key("P-256", private=True, parameters={"kid": portal.key.kid})
    response = bank.post("/consent-events", content=portal.consent_event(key=forged), headers=JWT)
    assert response.status_code == 400
    assert bank.app.state.store.consent_events() == []


@pytest.mark.parametrize("body", [b"not a jwt", b"a.b.c", "é".encode(), b""])
def test_garbage_is_refused(bank: TestClient, body: bytes):
    assert bank.post("/consent-events", content=body, headers=JWT).status_code == 400


def test_another_content_type_is_refused(bank: TestClient, portal: FakePortal):
    response = bank.post(
        "/consent-events", content=portal.consent_event(), headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 415
    assert bank.app.state.store.consent_events() == []


def test_an_oversized_body_is_refused(bank: TestClient):
    assert bank.post("/consent-events", content=b"a" * 20_000, headers=JWT).status_code == 413


def test_an_id_token_is_not_a_notice(bank: TestClient, portal: FakePortal):
    """Both are signed by the portal's key for this bank: the event claim tells them apart."""
    now = int(time.time())
    id_token = jwt.encode(
        {"alg": "ES256", "kid": portal.key.kid},
        {
            "iss": portal.issuer,
            "aud": "sakura-bank",
            "sub": "pairwise-sub-1",
            "nonce": "n",
            "iat": now,
            "exp": now + 300,
        },
        portal.key,
    )
    assert bank.post("/consent-events", content=id_token, headers=JWT).status_code == 400


def test_portal_keys_out_of_reach_asks_for_a_resend(bank: TestClient, portal: FakePortal):
    token = portal.consent_event()
    portal.unreachable = True

    response = bank.post("/consent-events", content=token, headers=JWT)

    assert response.status_code == 503
    assert response.headers["Retry-After"] == "30"
