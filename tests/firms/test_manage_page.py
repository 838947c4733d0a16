"""The firm's own page behind its link: what it shows, redirect URIs and key rotation with the same
checks, and nothing at all for a wrong, missing or other firm's secret (404 every time, no leak)."""

import json

import pytest
from django.core import mail

from portal.firms import services
from portal.firms.models import ClientEnvironment, FirmEvent, FirmEventKind
from tests.firms.conftest import apply, jwks_text, private_ec_jwk, public_ec_jwk

pytestmark = pytest.mark.django_db


def _url(firm, token=None) -> str:
    return f"/developers/{firm.public_id}/" + ("" if token is None else f"?token={token}")


def test_the_page_shows_the_review_and_what_was_declared(client, applied):
    firm, token = applied
    page = client.get(_url(firm, token))
    text = page.content.decode()
    assert page.status_code == 200 and "no-store" in page["Cache-Control"]
    assert 'data-state="applied"' in text and 'id="no-clients"' in text
    assert "loan-screening" in text and "ローンの審査" in text and "https://tsubame.example/callback" in text
    assert json.dumps(firm.jwks["keys"][0]["x"])[1:-1] in text


def test_once_approved_it_shows_the_client_ids(client, applied, staff):
    firm, token = applied
    sandbox = services.firm_approve(firm_id=firm.pk, staff=staff)
    production = services.firm_production_allow(firm_id=firm.pk, staff=staff)
    text = client.get(_url(firm, token)).content.decode()
    assert f'id="sandbox-client-id">{sandbox.client_id}<' in text
    assert f'id="production-client-id">{production.client_id}<' in text


def test_a_rejection_shows_its_reason(client, applied, staff):
    firm, token = applied
    services.firm_reject(firm_id=firm.pk, staff=staff, reason="利用目的が具体的でありません")
    text = client.get(_url(firm, token)).content.decode()
    assert 'data-state="rejected"' in text and "利用目的が具体的でありません" in text


@pytest.mark.parametrize("variant", ["none", "empty", "wrong", "long", "other_firm", "unknown_firm"])
def test_without_the_right_secret_the_page_does_not_exist(client, applied, variant):
    firm, token = applied
    _other, other_token = apply(corporate_number="7000012050002", legal_name="ほかの会社")
    url = {
        "none": _url(firm),
        "empty": _url(firm, ""),
        "wrong": _url(firm, token[:-1] + ("A" if token[-1] != "A" else "B")),
        "long": _url(firm, token * 10),
        "other_firm": _url(firm, other_token),
        "unknown_firm": "/developers/00000000-0000-4000-8000-000000000000/?token=" + token,
    }[variant]
    response = client.get(url)
    text = response.content.decode()
    assert response.status_code == 404
    # The page names nothing it found (it only repeats the address asked, in the language switch).
    assert "つばめ信用金庫" not in text and "ほかの会社" not in text and "tsubame" not in text
    assert 'id="error" data-code="404"' in text


def test_posts_without_the_secret_change_nothing(client, applied):
    firm, _ = applied
    for path in ("redirect-uris", "jwks"):
        response = client.post(
            f"/developers/{firm.public_id}/{path}/", {"token": "guess", path.replace("-", "_"): ""}
        )
        assert response.status_code == 404
    firm.refresh_from_db()
    assert firm.redirect_uris == ["https://tsubame.example/callback", "http://127.0.0.1:9000/callback"]


def test_wrong_secrets_are_rate_limited(client, applied, settings):
    firm, _ = applied
    settings.FIRMS_MANAGE_MISSES_PER_10_MINUTES = 3
    statuses = [client.get(_url(firm, f"guess-{i}")).status_code for i in range(5)]
    assert statuses == [404, 404, 404, 429, 429]


def test_redirect_uris_are_replaced_on_the_firm_and_its_clients(
    client, applied, staff, eager, django_capture_on_commit_callbacks
):
    firm, token = applied
    services.firm_approve(firm_id=firm.pk, staff=staff)
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            f"/developers/{firm.public_id}/redirect-uris/",
            {"token": token, "redirect_uris": "https://tsubame.example/new\nhttp://[::1]:9000/cb"},
        )
    assert response.status_code == 302 and response["Location"] == _url(firm, token)
    firm.refresh_from_db()
    expected = ["https://tsubame.example/new", "http://[::1]:9000/cb"]
    assert firm.redirect_uris == expected
    assert firm.clients.get(environment=ClientEnvironment.SANDBOX).redirect_uris == expected
    assert FirmEvent.objects.filter(firm=firm, kind=FirmEventKind.REDIRECT_URIS_CHANGED).count() == 1
    (message,) = mail.outbox
    assert "リダイレクトURIが変更されました" in message.subject
    assert "リダイレクトURIを更新しました" in client.get(response["Location"]).content.decode()


def test_bad_redirect_uris_are_refused_and_shown_as_typed(client, applied):
    firm, token = applied
    response = client.post(
        f"/developers/{firm.public_id}/redirect-uris/",
        {"token": token, "redirect_uris": "https://tsubame.example/*"},
    )
    text = response.content.decode()
    assert response.status_code == 422 and "ワイルドカード" in text and "wildcard" in text
    assert "https://tsubame.example/*</textarea>" in text
    firm.refresh_from_db()
    assert firm.redirect_uris == ["https://tsubame.example/callback", "http://127.0.0.1:9000/callback"]


def test_key_rotation_replaces_the_jwks_everywhere(client, applied, staff):
    firm, token = applied
    services.firm_approve(firm_id=firm.pk, staff=staff)
    services.firm_production_allow(firm_id=firm.pk, staff=staff)
    old = firm.jwks["keys"][0]
    new = public_ec_jwk("key-2")
    response = client.post(
        f"/developers/{firm.public_id}/jwks/", {"token": token, "jwks": jwks_text(old, new)}
    )
    assert response.status_code == 302
    firm.refresh_from_db()
    assert [k["kid"] for k in firm.jwks["keys"]] == ["key-1", "key-2"]
    for client_row in firm.clients.all():
        assert client_row.jwks == firm.jwks
    client.post(f"/developers/{firm.public_id}/jwks/", {"token": token, "jwks": jwks_text(new)})
    firm.refresh_from_db()
    assert [k["kid"] for k in firm.jwks["keys"]] == ["key-2"]
    assert FirmEvent.objects.filter(firm=firm, kind=FirmEventKind.JWKS_CHANGED).count() == 2


def test_a_private_key_in_a_rotation_is_refused_and_not_shown(client, applied):
    firm, token = applied
    before = firm.jwks
    key = private_ec_jwk("key-2")
    response = client.post(f"/developers/{firm.public_id}/jwks/", {"token": token, "jwks": jwks_text(key)})
    text = response.content.decode()
    assert response.status_code == 422 and "秘密鍵" in text and key["d"] not in text
    firm.refresh_from_db()
    assert firm.jwks == before
    assert not FirmEvent.objects.filter(kind=FirmEventKind.JWKS_CHANGED).exists()


def test_the_same_values_again_change_nothing(client, applied):
    firm, token = applied
    client.post(
        f"/developers/{firm.public_id}/redirect-uris/",
        {"token": token, "redirect_uris": "\n".join(firm.redirect_uris)},
    )
    assert not FirmEvent.objects.filter(kind=FirmEventKind.REDIRECT_URIS_CHANGED).exists()


def test_a_rejected_application_cannot_be_changed(client, applied, staff):
    firm, token = applied
    services.firm_reject(firm_id=firm.pk, staff=staff, reason="不備")
    response = client.post(
        f"/developers/{firm.public_id}/redirect-uris/",
        {"token": token, "redirect_uris": "https://x.example/cb"},
    )
    assert response.status_code == 409 and "新しく申請してください" in response.content.decode()
    firm.refresh_from_db()
    assert firm.redirect_uris == ["https://tsubame.example/callback", "http://127.0.0.1:9000/callback"]


def test_a_suspended_firm_may_still_rotate_its_keys(client, approved, applied, staff):
    _, token = applied
    services.firm_suspend(firm_id=approved.pk, staff=staff, reason="鍵の漏えいの疑い")
    response = client.post(
        f"/developers/{approved.public_id}/jwks/", {"token": token, "jwks": jwks_text(public_ec_jwk("fresh"))}
    )
    assert response.status_code == 302
    approved.refresh_from_db()
    assert approved.jwks["keys"][0]["kid"] == "fresh"
