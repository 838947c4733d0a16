"""A NUL character in a query string or form field is refused whole, in both languages, before a view
can look it up or store it (PostgreSQL text cannot hold one: each was a 500)."""

from urllib.parse import urlencode

import pytest
from django.test import Client

from portal.history.alerts import alert_preference_get
from portal.history.models import ReleaseRecord
from portal.identity.models import SigningRequest, SigningStatus
from tests.factories import ResidentFactory
from tests.helpers import start_login
from tests.proxies.conftest import logged_in

pytestmark = pytest.mark.django_db

JA = "使えない文字（NUL 文字）"
EN = "contains a character that cannot be used (NUL)"


@pytest.fixture
def resident_client():
    return logged_in(ResidentFactory())


@pytest.mark.parametrize(
    ("path", "params"),
    [
        ("/notices/", {"q": "児童\x00手当"}),  # the inbox's text search: was a 500
        ("/notices/", {"q\x00": "x"}),
        ("/history/", {"category": "\x00"}),
        ("/account/banks/", {"q": "\x00"}),
    ],
)
def test_a_nul_in_the_query_string_is_a_clear_400_page(resident_client, path, params):
    records = ReleaseRecord.objects.count()
    response = resident_client.get(path, params)
    body = response.content.decode()
    assert response.status_code == 400 and 'data-code="invalid_request"' in body
    assert JA in body and EN in body
    assert ReleaseRecord.objects.count() == records  # refused before the view recorded a display
    english = resident_client.get(path, params, HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert f'<p class="notice__primary" lang="en">What was sent {EN}' in english


@pytest.mark.parametrize("urlencoded", [False, True], ids=["multipart", "urlencoded"])
def test_a_nul_in_a_posted_form_changes_nothing(urlencoded):
    resident = ResidentFactory()
    data = {"on_firm_reads": "on", "on_proxy_reads": "on\x00"}
    client = logged_in(resident)
    if urlencoded:
        form = urlencode(data)
        response = client.post("/history/alerts/", form, content_type="application/x-www-form-urlencoded")
    else:
        response = client.post("/history/alerts/", data)
    assert response.status_code == 400 and EN in response.content.decode()
    assert not alert_preference_get(resident=resident).on_firm_reads


def test_json_callers_get_json_with_the_oauth_fields():
    response = Client().post(
        "/oauth/token",
        urlencode({"grant_type": "authorization_code", "code": "a\x00"}),
        content_type="application/x-www-form-urlencoded",
    )
    assert response.status_code == 400
    body = response.json()
    assert body["error"] == "invalid_request" and EN in body["error_description"]
    assert JA in body["message"]["ja"] and EN in body["message"]["en"]


def test_a_json_body_is_left_to_its_view(client):
    request_id = start_login(client)
    answer = Client().post(
        f"/signing/{request_id}/response/", data='{"jws": "a\\u0000.b.c"}', content_type="application/json"
    )
    assert answer.status_code == 400 and answer.json()["error"] == "malformed_signature"


def test_a_multipart_body_of_a_view_without_csrf_is_left_unread_for_the_view(client):
    # Parsing it here would leave request.body unreadable to the view that wants the raw body (a 500).
    request_id = start_login(client)
    answer = Client().post(f"/signing/{request_id}/response/", data={"jws": "a\x00.b.c"})
    assert answer.status_code == 400 and answer.json()["error"] == "malformed_request"
    assert SigningRequest.objects.get(pk=request_id).status == SigningStatus.PENDING
