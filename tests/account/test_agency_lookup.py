"""Agencies look up a resident's account through the agency API: verified, unflagged, recorded first."""

import json

import pytest

from portal.account.models import PublicFundAccount, ReviewState
from portal.history.models import ReleaseRecord
from tests.account.conftest import register_verified
from tests.notices.conftest import (  # noqa: F401 -- fixtures used by name
    API,
    _agency_api,
    agency_client,
    agency_key,
    api,
    code_of,
)

pytestmark = pytest.mark.django_db
PURPOSE = "児童扶養手当の支給"


def lookup(api, body, token=None):  # noqa: F811
    return api.http.post(
        f"{API}/public-fund-accounts/lookups",
        data=json.dumps(body),
        content_type="application/json",
        **api.headers(token),
    )


def test_verified_account_is_given_and_the_lookup_is_in_the_residents_history(api, misaki):  # noqa: F811
    register_verified(misaki)
    response = lookup(api, {"agency_code": code_of(misaki), "purpose": PURPOSE})
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["bank_code"] == "0001" and body["account_number"] == "1234567"
    assert body["bank_name"] == "みずほ" and body["holder_kana"].replace(" ", "") == "サトウミサキ"
    record = ReleaseRecord.objects.get(owner=misaki, category="public_fund_account", actor_type="agency")
    assert record.actor_ref == "municipal-child" and record.purpose == PURPOSE
    assert record.channel == "agency_api"


def test_flagged_account_is_not_given(api, misaki):  # noqa: F811
    register_verified(misaki)
    PublicFundAccount.objects.update(review_state=ReviewState.FLAGGED)
    response = lookup(api, {"agency_code": code_of(misaki), "purpose": PURPOSE})
    assert response.status_code == 409 and response.json()["error"] == "account_under_review"
    assert "1234567" not in response.content.decode()
    assert not ReleaseRecord.objects.filter(category="public_fund_account").exists()


@pytest.mark.parametrize(
    ("body", "status", "error"),
    [
        ({"agency_code": "NOSUCHCODE", "purpose": PURPOSE}, 404, "unknown_code"),
        ({"agency_code": "X"}, 422, "invalid_request"),
        ({"agency_code": "X", "purpose": "   "}, 422, None),
        ([1, 2], 422, "invalid_request"),
    ],
)
def test_bad_lookups_are_refused_clearly(api, misaki, body, status, error):  # noqa: F811
    register_verified(misaki)
    response = lookup(api, body)
    assert response.status_code == status, response.content
    answer = response.json()
    assert answer["message"]["ja"] and answer["message"]["en"]
    if error:
        assert answer["error"] == error
    assert not ReleaseRecord.objects.filter(category="public_fund_account").exists()


def test_resident_without_an_account(api, misaki):  # noqa: F811
    response = lookup(api, {"agency_code": code_of(misaki), "purpose": PURPOSE})
    assert response.status_code == 404 and response.json()["error"] == "account_not_registered"


def test_lookup_needs_an_agency_assertion(api, misaki):  # noqa: F811
    register_verified(misaki)
    response = lookup(api, {"agency_code": code_of(misaki), "purpose": PURPOSE}, token="not-a-jwt")
    assert response.status_code == 401
    assert not ReleaseRecord.objects.filter(category="public_fund_account").exists()


@pytest.mark.parametrize(
    ("method", "raw", "content_type", "status", "code", "english"),
    [
        ("post", b'{"agency_code": ', "application/json", 400, "parse_error", "cannot be read as JSON"),
        ("post", b"agency_code=x", "text/plain", 415, "unsupported_media_type", "Send application/json"),
        ("get", b"", "application/json", 405, "method_not_allowed", "GET is not allowed here."),
    ],
    ids=["malformed-json", "text-plain", "get"],
)
def test_drf_s_own_refusals_say_why_in_japanese_and_english(
    api,  # noqa: F811
    method,
    raw,
    content_type,
    status,
    code,
    english,
):
    call = getattr(api.http, method)
    headers = {**api.headers(), "HTTP_ACCEPT_LANGUAGE": "ja"}
    path = f"{API}/public-fund-accounts/lookups"
    response = call(path, data=raw, content_type=content_type, **headers) if raw else call(path, **headers)
    assert response.status_code == status and response.json()["error"] == code
    message = response.json()["message"]
    assert english in message["en"] and message["en"].isascii()
    assert message["ja"] and not message["ja"].isascii() and message["ja"] != "要求を処理できませんでした。"
    assert not ReleaseRecord.objects.exists()
