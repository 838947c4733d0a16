"""The browser's return from the portal: state and iss are checked first, then the code exchange and the
ID token; whatever the portal refused is shown plainly."""

from __future__ import annotations

import time

import pytest
from fastapi.testclient import TestClient
from joserfc.jwk import ECKey

from .conftest import consent_and_return, start
from .fake_portal import FakePortal


def _application(bank: TestClient):
    return bank.app.state.store.application_latest(bank.cookies["bank_session"])


def test_state_mismatch_is_refused_and_changes_nothing(bank: TestClient, portal: FakePortal):
    sent = start(bank)
    good = portal.authorize(sent["request_uri"])

    refused = bank.get("/callback", params={**good, "state": "forged-state"})

    assert refused.status_code == 400
    assert 'data-code="state_mismatch"' in refused.text
    assert "state" in refused.text
    assert _application(bank).status == "started"
    assert [r for r in portal.requests if r.url.path == "/oauth/token"] == []
    # The real answer still completes the application.
    assert bank.get("/callback", params=good).status_code == 303
    assert _application(bank).status == "authorized"


def test_issuer_mismatch_is_refused(bank: TestClient, portal: FakePortal):
    response = consent_and_return(bank, portal, iss="http://evil.test")

    assert response.status_code == 400
    assert 'data-code="issuer_mismatch"' in response.text
    assert _application(bank).status == "started"
    assert [r for r in portal.requests if r.url.path == "/oauth/token"] == []


def test_missing_iss_is_refused_when_the_portal_always_sends_it(bank: TestClient, portal: FakePortal):
    response = consent_and_return(bank, portal, iss=None)
    assert response.status_code == 400
    assert 'data-code="issuer_mismatch"' in response.text


def test_missing_iss_is_accepted_from_a_portal_that_does_not_send_it(bank: TestClient, portal: FakePortal):
    portal.iss_parameter_supported = False
    response = consent_and_return(bank, portal, iss=None)
    assert response.status_code == 303


def test_access_denied_is_shown(bank: TestClient, portal: FakePortal):
    sent = start(bank)
    state = portal.pushed[sent["request_uri"]]["state"]

    response = bank.get("/callback", params={"error": "access_denied", "state": state, "iss": portal.issuer})

    assert response.status_code == 200
    assert 'data-code="access_denied"' in response.text
    assert "同意されなかった" in response.text and "did not agree" in response.text
    assert _application(bank).status == "declined"
    assert 'data-code="access_denied"' in bank.get("/application").text


def test_access_denied_with_a_wrong_state_is_still_a_state_mismatch(bank: TestClient, portal):
    start(bank)
    response = bank.get("/callback", params={"error": "access_denied", "state": "x", "iss": portal.issuer})
    assert 'data-code="state_mismatch"' in response.text
    assert _application(bank).status == "started"


def test_other_authorization_errors_name_the_error(bank: TestClient, portal: FakePortal):
    sent = start(bank)
    state = portal.pushed[sent["request_uri"]]["state"]
    response = bank.get("/callback", params={"error": "server_error", "state": state, "iss": portal.issuer})
    assert response.status_code == 400
    assert 'data-code="authorization_failed"' in response.text and "server_error" in response.text


def test_callback_without_code(bank: TestClient, portal: FakePortal):
    response = consent_and_return(bank, portal, code=None)
    assert 'data-code="code_missing"' in response.text


def test_callback_in_a_browser_that_started_nothing(bank: TestClient, portal: FakePortal):
    response = bank.get("/callback", params={"code": "c", "state": "s", "iss": portal.issuer})
    assert response.status_code == 400
    assert 'data-code="application_missing"' in response.text


def test_a_reload_of_the_callback_does_not_use_the_code_again(bank: TestClient, portal: FakePortal):
    sent = start(bank)
    query = portal.authorize(sent["request_uri"])
    bank.get("/callback", params=query)

    again = bank.get("/callback", params=query)

    assert again.status_code == 303 and again.headers["location"] == "/application"
    assert len([r for r in portal.requests if r.url.path == "/oauth/token"]) == 1


def test_a_refused_code_exchange_is_shown(bank: TestClient, portal: FakePortal):
    sent = start(bank)
    query = portal.authorize(sent["request_uri"])
    next(iter(portal.codes.values()))["used"] = True  # as if replayed

    response = bank.get("/callback", params=query)

    assert response.status_code == 502
    assert 'data-code="token_refused"' in response.text and "invalid_grant" in response.text
    assert _application(bank).status == "failed"


def test_a_bearer_token_is_refused(bank: TestClient, portal: FakePortal):
    portal.token_type = "Bearer"
    response = consent_and_return(bank, portal)
    assert 'data-code="token_refused"' in response.text


@pytest.mark.parametrize(
    "overrides",
    [
        {"nonce": "another-nonce"},
        {"nonce": None},
        {"aud": "another-bank"},
        {"aud": ["sakura-bank", "another-bank"]},  # several audiences without azp
        {"iss": "http://evil.test"},
        {"exp": int(time.time()) - 3600},
        {"sub": None},
        {"at_hash": "AAAAAAAAAAAAAAAAAAAAAA"},
    ],
    ids=["nonce", "no-nonce", "aud", "aud-without-azp", "iss", "expired", "no-sub", "at_hash"],
)
def test_id_token_claims_are_checked(bank: TestClient, portal: FakePortal, overrides):
    portal.id_token_overrides = overrides

    response = consent_and_return(bank, portal)

    assert response.status_code == 502
    assert 'data-code="id_token_invalid"' in response.text
    assert _application(bank).access_token is None


def test_id_token_with_several_audiences_and_our_azp_is_taken(bank: TestClient, portal: FakePortal):
    portal.id_token_overrides = {"aud": ["sakura-bank", "another-bank"], "azp": "sakura-bank"}
    assert consent_and_return(bank, portal).status_code == 303


def test_id_token_signed_by_another_key_is_refused(bank: TestClient, portal: FakePortal):
    portal.id_token_key = ECKey.generate_key("P-256", private=True, parameters={"kid": "portal-1"})
    response = consent_and_return(bank, portal)
    assert 'data-code="id_token_invalid"' in response.text
