"""The whole client flow against a fake portal: pushed request, the browser's redirect, code exchange,
ID token, the resource API (with its 202s), check again and a revoked consent."""

from __future__ import annotations

import base64
import hashlib
import re
import string

from fastapi.testclient import TestClient

from simulators.bank.config import PURPOSE, SCOPE

from .conftest import Sleeps, consent_and_return, csrf_of, start
from .fake_portal import ISSUER, FakePortal


def test_start_pushes_the_request_and_sends_only_client_id_and_request_uri(bank: TestClient, portal):
    token = csrf_of(bank.get("/").text)
    response = bank.post("/start", data={"csrf_token": token})

    location = response.headers["location"]
    assert response.status_code == 303
    assert location.startswith(f"{ISSUER}/oauth/authorize?")
    [(request_uri, pushed)] = portal.pushed.items()
    assert re.fullmatch(
        rf"{re.escape(ISSUER)}/oauth/authorize\?client_id=sakura-bank&request_uri=urn%3A.+", location
    )
    assert request_uri.startswith("urn:ietf:params:oauth:request_uri:")
    assert pushed["response_type"] == "code"
    assert pushed["client_id"] == "sakura-bank"
    assert pushed["redirect_uri"] == "http://bank.test/callback"
    assert pushed["scope"] == SCOPE == "openid name birth_date address income_tax"
    assert pushed["purpose"] == PURPOSE == "mortgage-screening"
    assert pushed["code_challenge_method"] == "S256"
    assert len(pushed["state"]) >= 32 and len(pushed["nonce"]) >= 32
    assert len(pushed["dpop_jkt"]) == 43


def test_client_assertion_is_short_lived_es256_with_the_banks_kid(bank: TestClient, portal, settings):
    start(bank)
    assertion = _form_of(portal.requests[-1])["client_assertion"]
    header = _segment(assertion, 0)
    claims = _segment(assertion, 1)
    assert header["alg"] == "ES256" and header["kid"] == "sakura-1"
    assert claims["iss"] == claims["sub"] == "sakura-bank"
    assert claims["aud"] == ISSUER
    assert 0 < claims["exp"] - claims["iat"] <= 300
    assert claims["jti"]


def test_pkce_verifier_is_random_and_its_s256_challenge_is_pushed(bank: TestClient, portal):
    consent_and_return(bank, portal)
    [pushed] = portal.pushed.values()
    verifier = _form_of(_requests_to(portal, "/oauth/token")[0])["code_verifier"]
    allowed = set(string.ascii_letters + string.digits + "-._~")
    assert 43 <= len(verifier) <= 128 and set(verifier) <= allowed
    digest = hashlib.sha256(verifier.encode()).digest()
    assert pushed["code_challenge"] == base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
    assert pushed["code_challenge"] != verifier


def test_full_flow_shows_income_and_name(bank: TestClient, portal: FakePortal):
    response = consent_and_return(bank, portal)
    assert response.status_code == 303 and response.headers["location"] == "/application"

    page = bank.get("/application")

    assert page.status_code == 200
    assert "山田 花子" in page.text
    assert "5,120,000 円" in page.text  # revenue, yen with separators
    assert "3,556,000 円" in page.text
    assert 'id="check-again"' in page.text
    token_request = _requests_to(portal, "/oauth/token")[0]
    assert token_request.headers["DPoP"]
    # Every resource call carried the DPoP token and a proof bound to it (the fake checks ath and key).
    for request in _requests_to(portal, "/api/v1/"):
        assert request.headers["Authorization"].startswith("DPoP ")
    assert [p["claims"]["htm"] for p in portal.proofs] == ["POST", "GET", "GET"]
    assert "ath" not in portal.proofs[0]["claims"] and all("ath" in p["claims"] for p in portal.proofs[1:])


def test_reloading_the_page_does_not_read_again(bank: TestClient, portal: FakePortal):
    consent_and_return(bank, portal)
    bank.get("/application")
    calls = len(_requests_to(portal, "/api/v1/"))

    bank.get("/application")

    assert len(_requests_to(portal, "/api/v1/")) == calls


def test_a_202_is_retried_after_the_wait_the_portal_asks(bank: TestClient, portal, sleeps: Sleeps):
    portal.pending_answers = 2
    portal.retry_after = "3"
    consent_and_return(bank, portal)

    page = bank.get("/application")

    assert "5,120,000 円" in page.text
    assert sleeps.waits == [3, 3]


def test_a_long_wait_is_capped_and_then_the_page_says_please_wait(bank: TestClient, portal, sleeps):
    portal.pending_answers = 10
    portal.retry_after = "120"
    consent_and_return(bank, portal)

    page = bank.get("/application")

    assert sleeps.waits == [5.0, 5.0, 5.0]  # three retries, each at most max_wait_seconds
    assert 'id="pending"' in page.text and "しばらくお待ちください" in page.text
    assert '<meta http-equiv="refresh" content="120">' in page.text
    assert "5,120,000" not in page.text

    portal.pending_answers = 0
    assert "5,120,000 円" in bank.get("/application").text


def test_a_202_without_retry_after_waits_a_default_pause(bank: TestClient, portal, sleeps):
    portal.pending_answers = 1
    portal.retry_after = None
    consent_and_return(bank, portal)

    bank.get("/application")

    assert sleeps.waits == [2]


def test_check_again_after_revocation_says_the_portal_refused(bank: TestClient, portal: FakePortal):
    consent_and_return(bank, portal)
    page = bank.get("/application").text
    ok = bank.post("/application/check-again", data={"csrf_token": csrf_of(page)})
    assert ok.status_code == 303
    assert 'data-code="ok"' in bank.get("/application").text

    portal.revoked = True
    bank.post("/application/check-again", data={"csrf_token": csrf_of(page)})
    again = bank.get("/application").text

    assert 'id="last-check" data-code="token_rejected"' in again
    assert "同意を取り消したか" in again and "revoked the consent" in again
    assert "invalid_token" in again
    assert "5,120,000 円" in again  # what was read before stays shown


def test_check_again_with_an_expired_token_does_not_call_the_portal(bank: TestClient, portal, settings):
    consent_and_return(bank, portal)
    page = bank.get("/application").text
    _expire_token(bank)
    calls = len(_requests_to(portal, "/api/v1/"))

    bank.post("/application/check-again", data={"csrf_token": csrf_of(page)})

    assert 'data-code="token_expired"' in bank.get("/application").text
    assert len(_requests_to(portal, "/api/v1/")) == calls


def _expire_token(bank: TestClient) -> None:
    store = bank.app.state.store
    application = store.application_latest(bank.cookies["bank_session"])
    application.token_expires_at = 1.0
    store.application_save(application)


def test_check_again_with_an_expired_token_of_a_periodic_consent_refreshes_it(bank: TestClient, portal):
    portal.periodic = True
    consent_and_return(bank, portal)
    page = bank.get("/application").text
    _expire_token(bank)

    bank.post("/application/check-again", data={"csrf_token": csrf_of(page)})

    assert 'data-code="ok"' in bank.get("/application").text
    refresh = _form_of(_requests_to(portal, "/oauth/token")[-1])
    assert refresh["grant_type"] == "refresh_token" and refresh["client_assertion"]
    assert len(portal.tokens) == 2
    # The new token was used, with a proof by the same DPoP key the refresh token is bound to.
    assert (
        _requests_to(portal, "/api/v1/")[-1].headers["Authorization"]
        != _requests_to(portal, "/api/v1/")[0].headers["Authorization"]
    )


def test_a_refused_refresh_says_the_consent_ended(bank: TestClient, portal: FakePortal):
    portal.periodic = True
    consent_and_return(bank, portal)
    page = bank.get("/application").text
    _expire_token(bank)
    portal.revoked = True

    bank.post("/application/check-again", data={"csrf_token": csrf_of(page)})

    again = bank.get("/application").text
    assert 'data-code="token_rejected"' in again and "invalid_grant" in again


def test_check_again_needs_the_form_token(bank: TestClient, portal):
    consent_and_return(bank, portal)
    bank.get("/application")

    response = bank.post("/application/check-again", data={"csrf_token": "forged"})

    assert response.status_code == 403


def test_dpop_nonce_is_sent_when_the_portal_asks_for_it(bank: TestClient, portal: FakePortal):
    portal.demand_nonce = True

    consent_and_return(bank, portal)
    page = bank.get("/application")

    assert "5,120,000 円" in page.text
    token_calls = _requests_to(portal, "/oauth/token")
    assert len(token_calls) == 2  # use_dpop_nonce once, then with the nonce and a fresh assertion
    first, second = (_form_of(call)["client_assertion"] for call in token_calls)
    assert first != second
    nonces = [proof["claims"].get("nonce") for proof in portal.proofs]
    assert nonces[0] is None and nonces[1:] == [portal.nonce] * (len(nonces) - 1)


def test_userinfo_about_another_subject_is_refused(bank: TestClient, portal: FakePortal):
    portal.userinfo_sub = "someone-else"
    consent_and_return(bank, portal)

    page = bank.get("/application")

    assert 'data-code="resource_failed"' in page.text
    assert "山田 花子" not in page.text


def test_resource_refusals_are_shown(bank: TestClient, portal: FakePortal):
    consent_and_return(bank, portal)
    portal.revoked = True

    page = bank.get("/application")

    assert 'data-code="token_rejected"' in page.text
    assert "5,120,000" not in page.text


def test_application_page_without_an_application(bank: TestClient):
    response = bank.get("/application")
    assert response.status_code == 400
    assert 'data-code="application_missing"' in response.text


def test_start_refused_without_the_form_token(bank: TestClient, portal: FakePortal):
    bank.get("/")
    response = bank.post("/start", data={"csrf_token": "nope"})
    assert response.status_code == 403
    assert portal.pushed == {}


def test_start_refused_from_another_origin(bank: TestClient, portal: FakePortal):
    token = csrf_of(bank.get("/").text)
    response = bank.post("/start", data={"csrf_token": token}, headers={"Origin": "http://evil.test"})
    assert response.status_code == 403
    assert portal.pushed == {}


def test_portal_unreachable_at_start(bank: TestClient, portal: FakePortal):
    portal.unreachable = True
    token = csrf_of(bank.get("/").text)
    response = bank.post("/start", data={"csrf_token": token})
    assert response.status_code == 502
    assert 'data-code="portal_unreachable"' in response.text


def test_par_refusal_is_shown_with_the_portals_error(bank: TestClient, portal: FakePortal):
    portal.par_error = "invalid_scope"
    token = csrf_of(bank.get("/").text)
    response = bank.post("/start", data={"csrf_token": token})
    assert response.status_code == 502
    assert 'data-code="par_refused"' in response.text and "invalid_scope" in response.text


def test_discovery_for_another_issuer_is_refused(bank: TestClient, portal: FakePortal):
    portal.issuer = "http://other.test"
    token = csrf_of(bank.get("/").text)
    response = bank.post("/start", data={"csrf_token": token})
    assert response.status_code == 502
    assert 'data-code="portal_metadata_invalid"' in response.text
    assert portal.pushed == {}


def _requests_to(portal: FakePortal, prefix: str):
    return [r for r in portal.requests if r.url.path.startswith(prefix)]


def _form_of(request) -> dict[str, str]:
    from urllib.parse import parse_qs

    return {k: v[0] for k, v in parse_qs(request.content.decode()).items()}


def _segment(token: str, index: int) -> dict:
    import json

    part = token.split(".")[index]
    return json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))
