"""Periodic consents and refresh tokens, revocation and introspection, /consents/, and telling the firm."""

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.test import Client
from django.utils import timezone
from joserfc import jwt
from joserfc.jwk import ECKey, KeySet

from portal.consents import services, tasks
from portal.consents.models import Consent, ConsentState, IssuedToken
from portal.firms.models import AccessKind, FirmClient
from tests.consents.conftest import ISSUER, consent_and_code, firm_make
from tests.consents.test_flow import hold_income

pytestmark = pytest.mark.django_db
NEW_CORPORATE_NUMBER = "3011101012863"


@pytest.fixture
def health_app(db):
    return firm_make(
        client_id="health-app",
        name="株式会社けんこうアプリ",
        scopes=("medical_checkups", "income_tax"),
        access_kind=AccessKind.PERIODIC,
        interval_days=30,
        access_days=365,
    )


def _periodic_tokens(client, jpki, agent, scope="openid income_tax") -> dict:
    code = consent_and_code(client, jpki, agent, purpose="mortgage-screening", scope=scope)
    answer = agent.exchange(Client(), code)
    assert answer.status_code == 200, answer.content
    return answer.json()


def _refresh(agent, refresh_token, **kwargs):
    return agent.token(Client(), {"grant_type": "refresh_token", "refresh_token": refresh_token}, **kwargs)


def test_periodic_medical_access_is_capped_at_90_days(client, trusted_jpki, health_app, hanako):
    _periodic_tokens(client, trusted_jpki, health_app, scope="openid medical_checkups")
    consent = Consent.objects.get()
    assert (consent.expires_at - consent.starts_at).days == 90 and consent.interval_days == 30


def test_a_periodic_consent_refreshes_with_the_same_key_and_rotates_the_refresh_token(
    client, trusted_jpki, health_app, hanako
):
    tokens = _periodic_tokens(client, trusted_jpki, health_app)
    consent = Consent.objects.get()
    assert (consent.expires_at - consent.starts_at).days == 365
    refreshed = _refresh(health_app, tokens["refresh_token"])
    assert refreshed.status_code == 200, refreshed.content
    body = refreshed.json()
    assert body["token_type"] == "DPoP" and body["refresh_token"] != tokens["refresh_token"]
    # The old refresh token and its access token stopped.
    assert _refresh(health_app, tokens["refresh_token"]).json()["error"] == "invalid_grant"
    assert health_app.api(Client(), "/api/v1/userinfo", tokens["access_token"]).status_code == 401
    assert health_app.api(Client(), "/api/v1/userinfo", body["access_token"]).status_code == 200


def test_a_refresh_with_another_dpop_key_is_refused(client, trusted_jpki, health_app, hanako):
    tokens = _periodic_tokens(client, trusted_jpki, health_app)
    proof = health_app.dpop("POST", "/oauth/token", key=ECKey.generate_key("P-256"))
    refused = _refresh(health_app, tokens["refresh_token"], dpop=proof)
    assert refused.status_code == 400 and refused.json()["error"] == "invalid_grant"


def test_refresh_tokens_end_with_the_consent(client, trusted_jpki, health_app, hanako):
    tokens = _periodic_tokens(client, trusted_jpki, health_app)
    services.consent_revoke(resident=hanako, consent_public_id=Consent.objects.get().public_id)
    assert _refresh(health_app, tokens["refresh_token"]).json()["error"] == "invalid_grant"


def test_periodic_access_allows_one_pull_per_interval(client, trusted_jpki, health_app, hanako):
    hold_income(hanako)
    tokens = _periodic_tokens(client, trusted_jpki, health_app)
    path = "/api/v1/information/income_tax"
    assert health_app.api(Client(), path, tokens["access_token"]).status_code == 200
    again = health_app.api(Client(), path, tokens["access_token"])
    assert again.status_code == 429 and again.json()["error"] == "pull_interval"
    assert 29 * 86400 < int(again["Retry-After"]) <= 30 * 86400
    assert Consent.objects.get().state == ConsentState.ACTIVE  # periodic: not used up


def test_revocation_endpoint_ends_a_token_and_introspection_says_so(client, trusted_jpki, bank, hanako):
    token = bank.exchange(Client(), consent_and_code(client, trusted_jpki, bank)).json()["access_token"]
    active = Client().post("/oauth/introspect", {"token": token, **bank.auth()}).json()
    assert active["active"] is True and active["client_id"] == bank.client_id and active["cnf"]["jkt"]
    assert active["token_type"] == "DPoP" and active["exp"] - active["iat"] <= 600
    other = firm_make(client_id="nosy-bank")
    assert Client().post("/oauth/introspect", {"token": token, **other.auth()}).json() == {"active": False}
    assert Client().post("/oauth/revoke", {"token": token, **bank.auth()}).status_code == 200
    assert Client().post("/oauth/introspect", {"token": token, **bank.auth()}).json() == {"active": False}
    assert bank.api(Client(), "/api/v1/userinfo", token).status_code == 401
    unauthenticated = Client().post("/oauth/revoke", {"token": token})
    assert unauthenticated.status_code == 401 and unauthenticated.json()["error"] == "invalid_client"


def test_consents_page_lists_grants_and_another_residents_consent_cannot_be_revoked(
    client, trusted_jpki, bank, hanako
):
    consent_and_code(client, trusted_jpki, bank)
    consent = Consent.objects.get()
    page = client.get("/consents/").content.decode()
    assert (
        f'id="consent-{consent.public_id}"' in page
        and "株式会社さくら銀行" in page
        and "住宅ローンの事前審査" in page
    )
    assert "まだ取得されていません" in page

    stranger = Client()
    from tests.helpers import login_with_card

    login_with_card(stranger, trusted_jpki, "sato-misaki")
    assert stranger.post(f"/consents/{consent.public_id}/revoke").status_code == 404
    assert f"consent-{consent.public_id}" not in stranger.get("/consents/").content.decode()
    consent.refresh_from_db()
    assert consent.state == ConsentState.ACTIVE

    assert client.post(f"/consents/{consent.public_id}/revoke").status_code == 302
    assert client.post(f"/consents/{consent.public_id}/revoke").status_code == 409  # already ended
    assert "取り消し" in client.get("/consents/").content.decode()


def test_expired_consents_end_with_their_tokens(
    client, trusted_jpki, bank, hanako, django_capture_on_commit_callbacks
):
    token = bank.exchange(Client(), consent_and_code(client, trusted_jpki, bank)).json()["access_token"]
    Consent.objects.update(expires_at=timezone.now())
    assert bank.api(Client(), "/api/v1/userinfo", token).status_code == 401  # already unusable
    with django_capture_on_commit_callbacks():
        assert services.consents_expire() == 1
    assert Consent.objects.get().state == ConsentState.EXPIRED
    assert not IssuedToken.objects.filter(revoked_at=None).exists()


class _FirmCallbacks(BaseHTTPRequestHandler):
    received: list[tuple[str, bytes]] = []
    status = 204

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        type(self).received.append((self.headers["Content-Type"], body))
        self.send_response(type(self).status)
        self.end_headers()

    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def firm_endpoint():
    _FirmCallbacks.received = []
    _FirmCallbacks.status = 204
    server = ThreadingHTTPServer(("127.0.0.1", 0), _FirmCallbacks)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/consent-events"
    server.shutdown()


def test_the_firm_is_told_over_http_with_a_signed_jwt_when_a_consent_ends(
    client, trusted_jpki, bank, hanako, firm_endpoint
):
    FirmClient.objects.update(callback_url=firm_endpoint)
    consent_and_code(client, trusted_jpki, bank)
    consent = Consent.objects.get()
    services.consent_revoke(resident=hanako, consent_public_id=consent.public_id)

    _FirmCallbacks.status = 503
    with pytest.raises(Exception, match="503"):
        tasks.tell_firm_consent_ended.run(consent_id=consent.pk)
    consent.refresh_from_db()
    assert consent.firm_told_at is None  # it will be sent again

    _FirmCallbacks.status = 204
    assert tasks.tell_firm_consent_ended.run(consent_id=consent.pk) is True
    content_type, body = _FirmCallbacks.received[-1]
    assert content_type == "application/jwt"
    claims = jwt.decode(body.decode(), KeySet.import_key_set(client.get("/oauth/jwks").json())).claims
    assert claims["iss"] == ISSUER and claims["aud"] == bank.client_id and claims["event"] == "consent.ended"
    assert claims["consent"] == str(consent.public_id) and claims["reason"] == "revoked"
    assert claims["sub"] == services.pairwise_subject(consent)
    consent.refresh_from_db()
    assert consent.firm_told_at is not None
    count = len(_FirmCallbacks.received)
    assert tasks.tell_firm_consent_ended.run(consent_id=consent.pk) is True
    assert len(_FirmCallbacks.received) == count  # told once
    assert json.dumps(claims)  # serialisable, no surprises


def test_the_same_resident_has_a_different_sub_at_every_firm(client, trusted_jpki, bank, health_app, hanako):
    consent_and_code(client, trusted_jpki, bank)
    consent_and_code(client, trusted_jpki, health_app, scope="openid income_tax")
    first, second = Consent.objects.order_by("pk")
    assert services.pairwise_subject(first) != services.pairwise_subject(second)
    assert services.pairwise_subject(first) == services.pairwise_subject(Consent.objects.get(pk=first.pk))


def test_a_change_of_controller_ends_every_active_consent_and_tells_each_resident(
    client, trusted_jpki, bank, hanako, django_capture_on_commit_callbacks
):
    from notices.models import Notice

    token = bank.exchange(Client(), consent_and_code(client, trusted_jpki, bank)).json()["access_token"]
    consent = Consent.objects.get()
    with django_capture_on_commit_callbacks():
        ended = services.consents_end_for_controller_change(
            firm_id=consent.firm_id, new_legal_name="株式会社みらい銀行"
        )
    assert ended == 1
    consent.refresh_from_db()
    assert consent.state == ConsentState.CONTROLLER_CHANGED
    assert bank.api(Client(), "/api/v1/userinfo", token).status_code == 401
    notice = Notice.objects.get(title_ja="情報の提供先の事業者が変わりました")
    assert "株式会社みらい銀行" in notice.body_ja and "改めて同意" in notice.body_ja
    assert services.consents_end_for_controller_change(firm_id=consent.firm_id, new_legal_name="x") == 0


def test_staff_recording_a_change_of_controller_ends_the_firms_consents(
    client, trusted_jpki, bank, hanako, django_capture_on_commit_callbacks
):
    from portal.celery import app as celery_app
    from portal.firms.services import controller_change_record
    from portal.identity.models import User

    consent_and_code(client, trusted_jpki, bank)
    consent = Consent.objects.get()
    staff = User.objects.create_user("reviewer", is_staff=True)
    eager = celery_app.conf.task_always_eager
    celery_app.conf.task_always_eager = True
    try:
        with django_capture_on_commit_callbacks(execute=True):
            controller_change_record(
                firm_id=consent.firm_id,
                staff=staff,
                new_legal_name="株式会社みらい銀行",
                new_corporate_number=NEW_CORPORATE_NUMBER,
                reason="合併",
                effective_on=timezone.localdate(),
            )
    finally:
        celery_app.conf.task_always_eager = eager
    consent.refresh_from_db()
    assert consent.state == ConsentState.CONTROLLER_CHANGED
