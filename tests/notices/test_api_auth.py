"""Agency API authentication: a fresh client assertion signed by a registered key, used once."""

import time

import pytest
from joserfc.jwk import ECKey, RSAKey

from notices.models import AgencyClient, Notice
from tests.notices.conftest import assertion, notice_body, public_jwks, to_resident

pytestmark = pytest.mark.django_db


def _refusal(response, code: str) -> dict:
    assert response.status_code == 401, response.content
    body = response.json()
    assert body["error"] == code
    assert body["message"]["ja"] and body["message"]["en"]
    return body


def test_good_assertion_is_accepted(api, resident):
    response = api.post_notice(notice_body(to_resident(resident)))
    assert response.status_code == 201, response.content


def test_missing_assertion_is_refused(api, resident):
    response = api.http.post("/api/agency/v1/notices", data="{}", content_type="application/json")
    _refusal(response, "assertion_missing")


def test_assertion_signed_by_an_unregistered_key_is_refused(api, resident):
    stranger = ECKey.generate_key("P-256", private=True)
    response = api.post_notice(notice_body(to_resident(resident)), token=assertion(stranger))
    _refusal(response, "invalid_assertion")
    assert not Notice.objects.exists()


def test_expired_assertion_is_refused(api, resident):
    past = int(time.time()) - 600
    token = assertion(api.key, iat=past, exp=past + 60)
    _refusal(api.post_notice(notice_body(to_resident(resident)), token=token), "assertion_expired")


def test_replayed_assertion_is_refused(api, resident):
    token = assertion(api.key)
    assert api.post_notice(notice_body(to_resident(resident)), key="a", token=token).status_code == 201
    replay = api.post_notice(notice_body(to_resident(resident)), key="b", token=token)
    _refusal(replay, "assertion_replayed")
    assert Notice.objects.count() == 1


def test_unknown_client_is_refused(api, resident):
    token = assertion(api.key, iss="someone-else", sub="someone-else")
    _refusal(api.post_notice(notice_body(to_resident(resident)), token=token), "unknown_client")


def test_deactivated_client_is_refused(api, resident, agency_client):
    agency_client.active = False
    agency_client.save(update_fields=["active"])
    _refusal(api.post_notice(notice_body(to_resident(resident))), "unknown_client")


@pytest.mark.parametrize(
    "claims",
    [
        {"aud": "http://elsewhere.example/api/agency/v1"},
        {"sub": "another-client"},
        {"exp": int(time.time()) + 3600},
        {"jti": None},
        {"jti": "short"},
        {"exp": None},
    ],
    ids=["audience", "subject", "too-long-lived", "no-jti", "short-jti", "no-exp"],
)
def test_assertion_with_wrong_claims_is_refused(api, resident, claims):
    token = assertion(api.key, **claims)
    _refusal(api.post_notice(notice_body(to_resident(resident)), token=token), "invalid_assertion")


def test_garbage_is_refused(api, resident):
    _refusal(api.post_notice(notice_body(to_resident(resident)), token="not.a.jwt"), "invalid_assertion")


def test_rs256_client(api, resident, agency_client):
    key = RSAKey.generate_key(2048, private=True)
    agency_client.jwks = public_jwks(key, "rsa-1", "RS256")
    agency_client.save(update_fields=["jwks"])
    token = assertion(key, kid="rsa-1", alg="RS256")
    assert api.post_notice(notice_body(to_resident(resident)), token=token).status_code == 201


def test_an_agency_reads_only_its_own_notices(api, resident, agency_key):
    notice_id = api.post_notice(notice_body(to_resident(resident))).json()["id"]
    AgencyClient.objects.create(
        client_id="tax-office",
        agency_id="municipal-tax",
        name="税務課",
        jwks=public_jwks(agency_key, "k1", "ES256"),
    )
    other = assertion(agency_key, iss="tax-office", sub="tax-office")
    response = api.get(f"notices/{notice_id}", token=other)
    assert response.status_code == 404
    assert response.json()["error"] == "not_found"
    assert api.get(f"notices/{notice_id}").status_code == 200
