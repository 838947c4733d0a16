"""The consent API end to end through the test client: push, consent with the card, token, data."""

import pytest
from django.test import Client
from django.utils import timezone
from joserfc import jwt
from joserfc.jwk import KeySet

from portal.consents.models import Consent, ConsentState, IssuedToken
from portal.history.models import ActorType, ReleaseRecord
from portal.myinfo.models import CategoryEntry, EntryState
from tests.consents.conftest import ISSUER, REDIRECT_URI, consent_and_code

pytestmark = pytest.mark.django_db

INCOME = {"fiscal_year": 2025, "total_income": 5_200_000}


def hold_income(resident, data=INCOME) -> None:
    CategoryEntry.objects.update_or_create(
        resident=resident,
        category="income_tax",
        defaults={
            "agency_id": "city-tax",
            "state": EntryState.DONE,
            "payload": __import__("json").dumps(data),
            "as_of": timezone.now(),
            "fetched_at": timezone.now(),
            "expires_at": timezone.now() + timezone.timedelta(hours=1),
        },
    )


def test_discovery_names_every_endpoint_and_requires_par_pkce_and_private_key_jwt(client):
    meta = client.get("/.well-known/openid-configuration").json()
    assert meta["issuer"] == ISSUER
    assert meta["require_pushed_authorization_requests"] is True
    assert meta["code_challenge_methods_supported"] == ["S256"]
    assert meta["token_endpoint_auth_methods_supported"] == ["private_key_jwt"]
    assert meta["subject_types_supported"] == ["pairwise"]
    assert "ES256" in meta["dpop_signing_alg_values_supported"]
    assert {"openid", "name", "income_tax", "medical_drugs"} <= set(meta["scopes_supported"])
    for endpoint in ("authorization_endpoint", "token_endpoint", "jwks_uri", "revocation_endpoint"):
        assert meta[endpoint].startswith(ISSUER + "/")
    keys = client.get("/oauth/jwks").json()["keys"]
    assert keys and all("d" not in key for key in keys)


def test_the_whole_flow_gives_an_id_token_a_dpop_token_and_the_income_recorded_first(
    client, trusted_jpki, bank, hanako
):
    hold_income(hanako)
    code = consent_and_code(client, trusted_jpki, bank)
    consent = Consent.objects.get()
    assert consent.resident == hanako and consent.state == ConsentState.ACTIVE
    assert consent.scopes == ["name", "birth_date", "income_tax"]
    assert consent.purpose_code == "mortgage-screening"
    assert consent.signing_request_id and consent.act_digest

    answer = bank.exchange(Client(), code)
    assert answer.status_code == 200, answer.content
    body = answer.json()
    assert body["token_type"] == "DPoP" and body["expires_in"] <= 600 and "refresh_token" not in body
    assert answer["Cache-Control"] == "no-store"
    id_token = jwt.decode(body["id_token"], KeySet.import_key_set(client.get("/oauth/jwks").json()))
    claims = id_token.claims
    assert claims["iss"] == ISSUER and claims["aud"] == [bank.client_id] and claims["nonce"] == bank.nonce
    assert claims["sub"] != str(hanako.public_id) and len(claims["sub"]) == 64
    assert "name" not in claims  # personal data only through the recorded API
    token = body["access_token"]
    assert IssuedToken.objects.get().access_token_hash != token  # only its keyed hash is kept

    before = ReleaseRecord.objects.filter(owner=hanako, actor_type=ActorType.FIRM).count()
    data = bank.api(Client(), "/api/v1/information/income_tax", token)
    assert data.status_code == 200, data.content
    assert data.json()["data"] == INCOME and data.json()["category"] == "income_tax"
    record = ReleaseRecord.objects.filter(owner=hanako, actor_type=ActorType.FIRM).latest("seq")
    assert ReleaseRecord.objects.filter(owner=hanako, actor_type=ActorType.FIRM).count() == before + 1
    assert record.actor_label == "株式会社さくら銀行" and record.purpose == "住宅ローンの事前審査"
    assert record.category == "income_tax" and record.channel == "firm_api"

    info = bank.api(Client(), "/api/v1/userinfo", token)
    assert info.status_code == 200
    assert info.json() == {
        "sub": claims["sub"],
        "name": "山田 花子",
        "name_kana": "ヤマダ ハナコ",
        "birthdate": hanako.birth_date.isoformat(),
    }
    # A one-time consent is used up once everything it covers was pulled, and its tokens stop.
    consent.refresh_from_db()
    assert consent.state == ConsentState.USED
    again = bank.api(Client(), "/api/v1/information/income_tax", token)
    assert again.status_code == 401 and again.json()["error"] == "invalid_token"
    assert 'DPoP error="invalid_token"' in again["WWW-Authenticate"]


def test_a_category_not_yet_fetched_answers_202_with_retry_after_and_starts_the_fetch(
    client, trusted_jpki, bank, hanako, django_capture_on_commit_callbacks
):
    CategoryEntry.objects.filter(resident=hanako).delete()
    code = consent_and_code(client, trusted_jpki, bank)
    token = bank.exchange(Client(), code).json()["access_token"]
    records = ReleaseRecord.objects.filter(owner=hanako, actor_type=ActorType.FIRM).count()
    with django_capture_on_commit_callbacks():
        pending = bank.api(Client(), "/api/v1/information/income_tax", token)
    assert pending.status_code == 202 and pending["Retry-After"] == "5"
    assert CategoryEntry.objects.get(resident=hanako, category="income_tax").state == EntryState.FETCHING
    assert ReleaseRecord.objects.filter(owner=hanako, actor_type=ActorType.FIRM).count() == records


def test_a_quarantined_record_is_never_released_to_a_firm(client, trusted_jpki, bank, hanako):
    hold_income(hanako)
    CategoryEntry.objects.filter(resident=hanako, category="income_tax").update(state=EntryState.QUARANTINED)
    token = bank.exchange(Client(), consent_and_code(client, trusted_jpki, bank)).json()["access_token"]
    answer = bank.api(Client(), "/api/v1/information/income_tax", token)
    assert answer.status_code == 409 and answer.json()["error"] == "record_unconfirmed"


def test_a_category_outside_the_consent_is_refused(client, trusted_jpki, bank, hanako):
    token = bank.exchange(Client(), consent_and_code(client, trusted_jpki, bank)).json()["access_token"]
    answer = bank.api(Client(), "/api/v1/information/pension", token)
    assert answer.status_code == 403 and answer.json()["error"] == "insufficient_scope"
    unknown = bank.api(Client(), "/api/v1/information/nothing", token)
    assert unknown.status_code == 404


def test_the_resident_declining_sends_access_denied_back_with_state_and_iss(client, bank, hanako):
    request_uri = bank.request_uri(Client())
    page = client.get("/oauth/authorize", {"client_id": bank.client_id, "request_uri": request_uri})
    declined = client.post(f"/oauth/authorize/{page.context['pushed'].pk}/decision", {"decision": "deny"})
    return_url = declined.context["return_url"]
    assert declined.status_code == 200 and return_url.startswith(REDIRECT_URI)
    assert "error=access_denied" in return_url and f"state={bank.state}" in return_url
    assert not Consent.objects.exists()
    # The request is spent: the same link cannot be used again.
    again = client.get("/oauth/authorize", {"client_id": bank.client_id, "request_uri": request_uri})
    assert again.status_code == 400 and not Consent.objects.exists()


def test_the_consent_screen_says_who_why_what_how_long_and_how_to_revoke(client, bank, hanako):
    request_uri = bank.request_uri(Client())
    page = client.get("/oauth/authorize", {"client_id": bank.client_id, "request_uri": request_uri})
    html = page.content.decode()
    facts = ("株式会社さくら銀行", "7010001008844", "住宅ローンの事前審査", "氏名", "生年月日")
    facts += ("所得・住民税",)
    for fact in facts:
        assert fact in html
    assert "365日間" in html and "30日間" in html and "/consents/" in html and "1回限り" in html
    assert "住所" not in html.split('id="consent-items"')[1].split("</ul>")[0]  # not asked for, not shown


def test_consenting_needs_a_recent_card_login(client, bank, hanako, settings):
    settings.CONSENT_RECENT_LOGIN_SECONDS = 0
    request_uri = bank.request_uri(Client())
    response = client.get("/oauth/authorize", {"client_id": bank.client_id, "request_uri": request_uri})
    assert response.status_code == 302 and response["Location"] == "/login/"
    assert "_auth_user_id" not in client.session  # the old session ended
    assert client.session["portal_login_next"].startswith("/oauth/authorize?")


def test_after_a_fresh_login_the_browser_returns_to_the_consent_screen(client, trusted_jpki, bank):
    from tests.helpers import card_answer, start_login

    request_uri = bank.request_uri(Client())
    response = client.get("/oauth/authorize", {"client_id": bank.client_id, "request_uri": request_uri})
    assert response["Location"] == "/login/"
    login_id = start_login(client)
    assert card_answer(client, trusted_jpki, login_id, "yamada-hanako", "1234").status_code == 200
    done = client.post(f"/login/{login_id}/complete/")
    if "/login/register/" in done["Location"]:
        import re

        register_id = re.search(r"/login/register/([0-9a-f-]+)/", done["Location"]).group(1)
        client.get(done["Location"])
        card_answer(client, trusted_jpki, register_id, "yamada-hanako", "ABC123")
        done = client.post(f"/login/register/{register_id}/")
    assert done.status_code == 302 and done["Location"].startswith("/oauth/authorize?")
    assert client.get(done["Location"]).status_code == 200
