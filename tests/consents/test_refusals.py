"""Every refusal of the consent API answers the standard error and changes nothing."""

import time

import pytest
from django.test import Client
from joserfc.jwk import ECKey

from portal.consents.models import Consent, ConsentState, IssuedToken, PushedAuthorization
from portal.firms.models import Firm, FirmClient, FirmState
from tests.consents.conftest import REDIRECT_URI, consent_and_code
from tests.consents.test_flow import hold_income

pytestmark = pytest.mark.django_db


def _error(response) -> str:
    return response.json()["error"]


# --- pushed authorization requests ---------------------------------------------------------------------


def test_a_push_without_client_authentication_is_invalid_client(bank):
    response = Client().post("/oauth/par", bank.request_params())
    assert response.status_code == 401 and _error(response) == "invalid_client"
    assert not PushedAuthorization.objects.exists()


def test_a_client_assertion_signed_with_another_key_is_invalid_client(bank):
    intruder = ECKey.generate_key("P-256")
    intruder.ensure_kid()
    response = bank.push(Client(), auth=bank.auth(key=intruder))
    assert response.status_code == 401 and _error(response) == "invalid_client"


def test_a_replayed_client_assertion_is_invalid_client(bank):
    auth = bank.auth()
    assert bank.push(Client(), auth=auth).status_code == 201
    again = bank.push(Client(), auth=auth)
    assert again.status_code == 401 and _error(again) == "invalid_client"
    assert PushedAuthorization.objects.count() == 1


@pytest.mark.parametrize(
    "claims",
    [{"aud": "https://elsewhere.example"}, {"exp": int(time.time()) - 120}, {"exp": int(time.time()) + 3600}],
    ids=["wrong-audience", "expired", "lives-an-hour"],
)
def test_client_assertions_for_elsewhere_expired_or_too_long_are_refused(bank, claims):
    aud = claims.pop("aud", "http://localhost")
    response = bank.push(Client(), auth=bank.auth(aud=aud, **claims))
    assert response.status_code == 401 and _error(response) == "invalid_client"


@pytest.mark.parametrize(
    ("overrides", "error"),
    [
        ({"code_challenge_method": "plain"}, "invalid_request"),
        ({"code_challenge": None, "code_challenge_method": None}, "invalid_request"),
        ({"redirect_uri": "https://evil.example/callback"}, "invalid_request"),
        ({"purpose": "marketing"}, "invalid_request"),
        ({"scope": "openid pension"}, "invalid_scope"),
        ({"scope": "name income_tax"}, "invalid_scope"),
        ({"scope": "openid"}, "invalid_scope"),
        ({"nonce": None}, "invalid_request"),
        ({"state": None}, "invalid_request"),
        ({"response_type": "token"}, "unsupported_response_type"),
        ({"request": "eyJhbGciOiJub25lIn0.e30."}, "invalid_request"),
        ({"request_uri": "urn:ietf:params:oauth:request_uri:x"}, "invalid_request"),
        ({"login_hint": "someone"}, "invalid_request"),
        ({"state": "a\x00b"}, "invalid_request"),
        ({"nonce": "\x00"}, "invalid_request"),
        ({"purpose": "\x00"}, "invalid_request"),
        ({"redirect_uri": "https://bank.example/²"}, "invalid_request"),
        ({"response_type": "cöde"}, "invalid_request"),
        ({"scope": "openid name\u202eincome_tax"}, "invalid_request"),
        ({"scope": "openid\tname"}, "invalid_request"),
        ({"ñame": "x"}, "invalid_request"),
        ({"state": "s" * 5000}, "invalid_request"),
    ],
    ids=[
        "plain-pkce",
        "no-pkce",
        "unregistered-redirect",
        "unknown-purpose",
        "scope-outside-purpose",
        "no-openid",
        "nothing-asked",
        "no-nonce",
        "no-state",
        "implicit",
        "request-object",
        "request-uri-pushed",
        "unknown-parameter",
        # Each of these was a 500: PostgreSQL cannot store a NUL, and authlib will not quote non-ASCII.
        "nul-in-state",
        "nul-in-nonce",
        "nul-in-purpose",
        "non-ascii-redirect",
        "non-ascii-response-type",
        "bidi-override-in-scope",
        "tab-in-scope",
        "non-ascii-parameter-name",
        "huge-state",
    ],
)
def test_bad_pushed_requests_are_refused_with_the_standard_error(bank, overrides, error):
    response = bank.push(Client(), **overrides)
    assert response.status_code == 400, response.content
    assert _error(response) == error and response.json()["error_description"]
    assert not PushedAuthorization.objects.exists()


def test_a_suspended_firm_cannot_push(bank):
    Firm.objects.update(state=FirmState.SUSPENDED)
    response = bank.push(Client())
    assert response.status_code == 401 and _error(response) == "invalid_client"


def test_a_sandbox_client_is_refused_where_the_sandbox_is_off(bank, settings):
    FirmClient.objects.update(environment="sandbox")
    settings.FIRMS_SANDBOX = False
    assert bank.push(Client()).status_code == 401


# --- the authorization endpoint -------------------------------------------------------------------------


def test_a_request_not_pushed_is_refused_with_a_page_in_both_languages(client, bank, hanako):
    response = client.get(
        "/oauth/authorize",
        {
            "client_id": bank.client_id,
            "response_type": "code",
            "redirect_uri": REDIRECT_URI,
            "scope": "openid",
        },
    )
    assert response.status_code == 400
    html = response.content.decode()
    assert "事前に送っていません" in html and "did not push it first" in html


@pytest.mark.parametrize("mutation", ["other-client", "unknown", "expired", "malformed"])
def test_request_uris_of_another_client_unknown_expired_or_malformed_are_refused(
    client, bank, hanako, mutation
):
    request_uri = bank.request_uri(Client())
    client_id = bank.client_id
    if mutation == "other-client":
        client_id = "someone-else"
    elif mutation == "unknown":
        request_uri = request_uri[:-4] + "AAAA"
    elif mutation == "expired":
        PushedAuthorization.objects.update(expires_at="2020-01-01T00:00:00Z")
    else:
        request_uri = "https://bank.example/request.jwt"
    response = client.get("/oauth/authorize", {"client_id": client_id, "request_uri": request_uri})
    assert response.status_code == 400 and not Consent.objects.exists()


def test_a_decision_on_a_request_this_browser_never_saw_is_404(client, bank, hanako):
    bank.request_uri(Client())
    pushed = PushedAuthorization.objects.get()
    assert client.post(f"/oauth/authorize/{pushed.pk}/decision", {"decision": "approve"}).status_code == 404


# --- the token endpoint ---------------------------------------------------------------------------------


@pytest.fixture
def code(client, trusted_jpki, bank, hanako) -> str:
    hold_income(hanako)
    return consent_and_code(client, trusted_jpki, bank)


def test_a_token_request_without_a_dpop_proof_is_refused(bank, code):
    response = bank.token(Client(), {"grant_type": "authorization_code", "code": code}, dpop="")
    assert response.status_code == 400 and _error(response) == "invalid_dpop_proof"
    assert not IssuedToken.objects.exists()


@pytest.mark.parametrize(
    "bad",
    ["wrong-htu", "wrong-htm", "old-iat", "garbage", "private-key-in-header", "hs256"],
)
def test_wrong_dpop_proofs_are_refused(bank, code, bad):
    if bad == "wrong-htu":
        proof = bank.dpop("POST", "/oauth/par")
    elif bad == "wrong-htm":
        proof = bank.dpop("GET", "/oauth/token")
    elif bad == "old-iat":
        proof = bank.dpop("POST", "/oauth/token", iat=int(time.time()) - 600)
    elif bad == "garbage":
        proof = "not.a.jws"
    elif bad == "private-key-in-header":
        from joserfc import jwt

        key = bank.dpop_key
        header = {"alg": "ES256", "typ": "dpop+jwt", "jwk": key.as_dict(private=True)}
        proof = jwt.encode(
            header, {"jti": "x" * 16, "htm": "POST", "htu": "http://localhost/oauth/token"}, key
        )
    else:
        from joserfc import jwt
        from joserfc.jwk import OctKey

        secret = OctKey.generate_key(256)
        proof = jwt.encode({"alg": "HS256", "typ": "dpop+jwt"}, {"jti": "y" * 16}, secret)
    data = {"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT_URI}
    data["code_verifier"] = bank.verifier
    response = bank.token(Client(), data, dpop=proof)
    assert response.status_code == 400 and _error(response) == "invalid_dpop_proof"
    # The code was not spent by a refused proof: the right request still works.
    assert bank.exchange(Client(), code).status_code == 200


@pytest.mark.parametrize(
    ("overrides", "error"),
    [
        ({"code_verifier": "x" * 50}, "invalid_grant"),
        ({"code_verifier": None}, "invalid_request"),
        ({"redirect_uri": "https://bank.example/other"}, "invalid_grant"),
        ({"code": "not-a-code"}, "invalid_grant"),
    ],
    ids=["wrong-verifier", "no-verifier", "other-redirect", "unknown-code"],
)
def test_bad_code_exchanges_are_refused(bank, code, overrides, error):
    response = bank.exchange(Client(), code, **overrides)
    assert response.status_code == 400 and _error(response) == error
    assert not IssuedToken.objects.filter(revoked_at__isnull=True).exists()


def test_a_token_request_signed_with_another_key_is_invalid_client_and_spends_nothing(bank, code):
    intruder = ECKey.generate_key("P-256")
    intruder.ensure_kid()
    data = {"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT_URI}
    response = bank.token(Client(), {**data, "code_verifier": bank.verifier}, key=intruder)
    assert response.status_code == 401 and _error(response) == "invalid_client"
    assert not IssuedToken.objects.exists()
    assert bank.exchange(Client(), code).status_code == 200  # the code is still the firm's to redeem


def test_a_replayed_code_is_refused_and_revokes_what_it_gave(bank, code):
    first = bank.exchange(Client(), code)
    assert first.status_code == 200
    again = bank.exchange(Client(), code)
    assert again.status_code == 400 and _error(again) == "invalid_grant"
    token = first.json()["access_token"]
    assert bank.api(Client(), "/api/v1/information/income_tax", token).status_code == 401


def test_an_expired_code_is_refused(bank, code):
    from portal.consents.models import AuthorizationCode

    AuthorizationCode.objects.update(expires_at="2020-01-01T00:00:00Z")
    assert _error(bank.exchange(Client(), code)) == "invalid_grant"


def test_another_client_cannot_redeem_the_code(bank, code):
    from tests.consents.conftest import firm_make

    other = firm_make(client_id="other-bank")
    other.verifier = bank.verifier
    response = other.exchange(Client(), code)
    assert response.status_code == 400 and _error(response) == "invalid_grant"


# --- the resource API -----------------------------------------------------------------------------------


@pytest.fixture
def token(bank, code) -> str:
    return bank.exchange(Client(), code).json()["access_token"]


def test_a_bearer_token_is_refused_since_tokens_are_dpop_bound(bank, token):
    path = "/api/v1/information/income_tax"
    response = bank.api(Client(), path, token, scheme="Bearer")
    assert response.status_code == 401 and _error(response) == "invalid_token"
    assert response.json()["message"]["ja"] and response.json()["message"]["en"]


def test_a_proof_by_another_key_is_refused(bank, token):
    path = "/api/v1/information/income_tax"
    proof = bank.dpop("GET", path, token=token, key=ECKey.generate_key("P-256"))
    response = bank.api(Client(), path, token, dpop=proof)
    assert response.status_code == 401 and _error(response) == "invalid_dpop_proof"


def test_a_replayed_proof_is_refused(bank, token):
    path = "/api/v1/userinfo"
    proof = bank.dpop("GET", path, token=token)
    assert bank.api(Client(), path, token, dpop=proof).status_code == 200
    again = bank.api(Client(), path, token, dpop=proof)
    assert again.status_code == 401 and _error(again) == "invalid_dpop_proof"


def test_a_proof_without_ath_or_for_another_token_is_refused(bank, token):
    path = "/api/v1/userinfo"
    assert bank.api(Client(), path, token, dpop=bank.dpop("GET", path)).status_code == 401
    other = bank.dpop("GET", path, token="another-token")
    assert bank.api(Client(), path, token, dpop=other).status_code == 401


def test_an_expired_access_token_is_refused(bank, token):
    IssuedToken.objects.update(expires_at="2020-01-01T00:00:00Z")
    assert _error(bank.api(Client(), "/api/v1/userinfo", token)) == "invalid_token"


def test_suspending_the_firm_stops_its_tokens_at_once(bank, token):
    Firm.objects.update(state=FirmState.SUSPENDED)
    response = bank.api(Client(), "/api/v1/information/income_tax", token)
    assert response.status_code == 401 and _error(response) == "invalid_token"


def test_revoking_on_consents_page_stops_the_token_at_once(client, bank, token):
    consent = Consent.objects.get()
    assert client.post(f"/consents/{consent.public_id}/revoke").status_code == 302
    consent.refresh_from_db()
    assert consent.state == ConsentState.REVOKED and not IssuedToken.objects.filter(revoked_at=None).exists()
    assert bank.api(Client(), "/api/v1/information/income_tax", token).status_code == 401


def test_the_firm_over_its_rate_limit_gets_429_with_retry_after(bank, token, settings):
    settings.CONSENT_API_RATE_PER_MINUTE = 1
    assert bank.api(Client(), "/api/v1/userinfo", token).status_code == 200
    limited = bank.api(Client(), "/api/v1/userinfo", token)
    assert limited.status_code == 429 and int(limited["Retry-After"]) > 0


def test_no_token_at_all_is_401_with_a_dpop_challenge():
    response = Client().get("/api/v1/userinfo")
    assert response.status_code == 401 and response["WWW-Authenticate"].startswith("DPoP")


@pytest.mark.parametrize(
    ("case", "status", "error"),
    [
        ("bearer", 401, "invalid_token"),
        ("proof-by-another-key", 401, "invalid_dpop_proof"),
        ("expired-token", 401, "invalid_token"),
        ("revoked-token", 401, "invalid_token"),
        ("suspended-firm", 401, "invalid_token"),
        ("scope-not-granted", 403, "insufficient_scope"),
    ],
)
def test_a_refused_resource_call_says_why_in_both_languages_and_releases_nothing(
    bank, token, case, status, error
):
    from portal.history.models import ActorType, ReleaseRecord

    path = "/api/v1/information/pension" if case == "scope-not-granted" else "/api/v1/information/income_tax"
    proof = None
    if case == "proof-by-another-key":
        proof = bank.dpop("GET", path, token=token, key=ECKey.generate_key("P-256"))
    elif case == "expired-token":
        IssuedToken.objects.update(expires_at="2020-01-01T00:00:00Z")
    elif case == "revoked-token":
        IssuedToken.objects.update(revoked_at="2020-01-01T00:00:00Z")
    elif case == "suspended-firm":
        Firm.objects.update(state=FirmState.SUSPENDED)
    released = ReleaseRecord.objects.filter(actor_type=ActorType.FIRM).count()

    response = bank.api(Client(), path, token, dpop=proof, scheme="Bearer" if case == "bearer" else "DPoP")

    assert response.status_code == status and _error(response) == error
    message = response.json()["message"]
    assert message["ja"] and not message["ja"].isascii() and message["en"] and message["en"].isascii()
    assert ReleaseRecord.objects.filter(actor_type=ActorType.FIRM).count() == released
