"""/developers/ without a browser: the page and its form, a refused form shown again with every message in
both languages, a stored application, the manage link shown once, and the rate limit."""

import re

import pytest
from django.core import mail

from portal.firms.models import Firm, FirmEvent, FirmEventKind, FirmPurpose
from tests.firms.conftest import form_data, jwks_text, private_ec_jwk, public_ec_jwk

pytestmark = pytest.mark.django_db


def _errors(response) -> list[str]:
    return re.findall(r'class="field__error" data-field="([^"]+)"', response.content.decode())


def test_the_page_says_what_the_api_is_and_shows_the_form(client):
    response = client.get("/developers/")
    page = response.content.decode()
    assert response.status_code == 200
    for expected in (
        'href="/developers/api/"',
        'href="/api/docs/"',
        "/.well-known/openid-configuration",
        'name="corporate_number"',
        'name="jwks"',
        'name="purposes-0-scopes" value="income_tax"',
        'name="purposes-0-access_kind" value="periodic"',
        'id="add-purpose"',
    ):
        assert expected in page, expected


def test_the_contract_is_rendered_from_the_docs(client):
    response = client.get("/developers/api/")
    page = response.content.decode()
    assert response.status_code == 200
    assert "<h1>The consent API for firms" in page and "private_key_jwt" in page and "<code>" in page


def test_a_valid_application_is_stored_and_its_link_shown_once(
    client, eager, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post("/developers/", form_data())
    assert response.status_code == 302 and response["Location"] == "/developers/applied/"

    firm = Firm.objects.get()
    assert (firm.legal_name, firm.corporate_number, firm.state) == (
        "つばめ信用金庫",
        "4011001098993",
        "applied",
    )
    assert firm.redirect_uris == ["https://tsubame.example/callback", "http://127.0.0.1:9000/callback"]
    purpose = FirmPurpose.objects.get(firm=firm)
    assert purpose.scopes == ["openid", "name", "income_tax"] and purpose.access_kind == "one_time"

    shown = client.get("/developers/applied/")
    link = re.search(r'id="manage-link">([^<]+)<', shown.content.decode()).group(1).replace("&amp;", "&")
    token = link.split("token=")[1]
    assert f"/developers/{firm.public_id}/?token=" in link
    assert token not in firm.manage_token_hash and len(firm.manage_token_hash) == 64
    again = client.get("/developers/applied/")
    assert token not in again.content.decode() and 'id="manage-link-shown"' in again.content.decode()

    page = client.get(link.split("127.0.0.1:8000")[-1])
    assert page.status_code == 200 and "つばめ信用金庫" in page.content.decode()

    (message,) = mail.outbox
    assert message.to == ["api@tsubame.example"] and "申請を受け付けました" in message.subject
    assert "application was received" in message.subject and token not in message.body
    assert FirmEvent.objects.get(firm=firm).kind == FirmEventKind.APPLIED


def test_a_refused_form_comes_back_as_typed_with_messages_in_both_languages(client):
    response = client.post(
        "/developers/",
        form_data(
            corporate_number="4011001098994",
            redirect_uris="http://bank.example/cb",
            **{"purposes-0-access_kind": "periodic", "purposes-0-interval_days": ""},
        ),
    )
    page = response.content.decode()
    assert response.status_code == 422
    assert sorted(set(_errors(response))) == ["corporate_number", "purposes-0-interval_days", "redirect_uris"]
    assert "検査用数字" in page and "check digit" in page
    assert "リダイレクトURIは https" in page and "A redirect URI must be https" in page
    assert 'value="4011001098994"' in page and "http://bank.example/cb</textarea>" in page
    assert 'value="つばめ信用金庫"' in page and 'value="periodic" checked' in page
    assert 'value="income_tax" checked' in page and 'aria-invalid="true"' in page
    assert 'id="error"' in page and "Nothing was saved" in page
    assert Firm.objects.count() == 0 and FirmPurpose.objects.count() == 0


def test_a_private_key_is_not_shown_again(client):
    key = private_ec_jwk("leaked")
    response = client.post("/developers/", form_data(jwks=jwks_text(key)))
    page = response.content.decode()
    assert response.status_code == 422 and _errors(response) == ["jwks"]
    assert key["d"] not in page and "秘密鍵" in page and "private key" in page
    assert Firm.objects.count() == 0


def test_a_public_jwks_that_is_refused_for_something_else_is_shown_again(client):
    key = {**public_ec_jwk(), "crv": "P-384"}
    page = client.post("/developers/", form_data(jwks=jwks_text(key))).content.decode()
    assert key["x"] in page


def test_adding_a_purpose_block_checks_and_stores_nothing(client):
    response = client.post("/developers/", form_data(add_purpose="1", legal_name=""))
    page = response.content.decode()
    assert response.status_code == 200 and _errors(response) == []
    assert 'name="purposes-1-code"' in page and 'name="purpose_count" value="2"' in page
    assert 'value="loan-screening"' in page
    assert Firm.objects.count() == 0


def test_two_purposes_from_the_form(client):
    data = form_data(
        purpose_count="2",
        **{
            "purposes-1-code": "pension-check",
            "purposes-1-description_ja": "年金額の確認",
            "purposes-1-description_en": "Checking the pension",
            "purposes-1-scopes": ["pension"],
            "purposes-1-access_kind": "periodic",
            "purposes-1-interval_days": "30",
            "purposes-1-access_days": "180",
        },
    )
    assert client.post("/developers/", data).status_code == 302
    assert sorted(FirmPurpose.objects.values_list("code", "interval_days")) == [
        ("loan-screening", None),
        ("pension-check", 30),
    ]


def test_a_forged_purpose_count_is_bounded(client):
    response = client.post("/developers/", form_data(purpose_count="100000", add_purpose="1"))
    codes = re.findall(r'name="purposes-(\d+)-code"', response.content.decode())
    assert codes == [str(i) for i in range(10)]
    assert client.post("/developers/", form_data(purpose_count="x", add_purpose="1")).status_code == 200


def test_applications_are_rate_limited_per_address(client, settings):
    settings.FIRMS_APPLY_RATE_PER_HOUR = 2
    for _ in range(2):
        assert client.post("/developers/", form_data(legal_name="")).status_code == 422
    response = client.post("/developers/", form_data())
    assert response.status_code == 429 and "しばらく待って" in response.content.decode()
    assert Firm.objects.count() == 0


def test_the_page_is_in_english_too(client):
    client.cookies["django_language"] = "en"
    page = client.get("/developers/").content.decode()
    assert "Apply" in page and "Corporate number" in page
    response = client.post("/developers/", form_data(legal_name=""))
    assert "Enter the legal name." in response.content.decode()
