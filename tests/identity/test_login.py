"""Logging in with the card: the QR flow, the user folder on first login, and every refusal."""

import base64
import datetime as dt
import json
import re

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding
from django.test import Client

from portal.core.crypto import lookup_hash
from portal.identity import services
from portal.identity.models import CardCertificate, Resident, SecurityEvent, SigningRequest, SigningStatus
from simulators.ca import TestCA, generate_key
from tests.conftest import PEOPLE
from tests.helpers import PIN, card_answer, login_with_card, signing_description, start_login

pytestmark = pytest.mark.django_db


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _jws(key, certificate, payload: dict) -> str:
    header = {
        "alg": "RS256",
        "typ": "jpki-sig",
        "x5c": [base64.b64encode(certificate.public_bytes(serialization.Encoding.DER)).decode()],
    }
    signing_input = f"{_b64(json.dumps(header).encode())}.{_b64(json.dumps(payload).encode())}"
    signature = key.sign(signing_input.encode(), padding.PKCS1v15(), hashes.SHA256())
    return f"{signing_input}.{_b64(signature)}"


def _payload(description: dict) -> dict:
    return {
        "req": description["id"],
        "nonce": description["nonce"],
        "kind": description["kind"],
        "summary_sha256": description["summary_sha256"],
        "iat": 0,
        "attrs": {},
    }


def _post_jws(request_id: str, jws: str):
    return Client().post(
        f"/signing/{request_id}/response/", data={"jws": jws}, content_type="application/json"
    )


def test_first_login_opens_user_folder_from_signature_certificate(client, trusted_jpki):
    login_with_card(client, trusted_jpki, "yamada-hanako")

    resident = Resident.objects.get()
    person = PEOPLE["yamada-hanako"]
    assert (resident.name, resident.name_kana, str(resident.birth_date)) == (
        person["name"],
        person["name_kana"],
        person["birth_date"],
    )
    assert resident.my_number == person["my_number"]
    assert resident.my_number_hash == lookup_hash(person["my_number"], purpose="my-number")
    assert set(CardCertificate.objects.values_list("kind", flat=True)) == {"auth", "signature"}
    page = client.get("/")
    assert person["name"] in page.content.decode()
    assert person["my_number"] not in page.content.decode()
    assert person["my_number"][-4:] in page.content.decode()


def test_second_login_needs_only_the_pin(client, trusted_jpki):
    login_with_card(client, trusted_jpki, "yamada-hanako")
    client.post("/logout/")
    other = Client()
    request_id = start_login(other)
    assert card_answer(other, trusted_jpki, request_id, "yamada-hanako", PIN).status_code == 200
    response = other.post(f"/login/{request_id}/complete/")
    assert response.status_code == 302 and response["Location"] == "/"
    assert Resident.objects.count() == 1


def test_foreign_resident_with_romanized_name_registers(client, trusted_jpki):
    login_with_card(client, trusted_jpki, "smith-john")
    assert Resident.objects.get().name == "SMITH JOHN"


def test_revoked_certificate_is_refused_and_recorded(client, trusted_jpki):
    request_id = start_login(client)
    answer = card_answer(client, trusted_jpki, request_id, "takahashi-ken", PIN)
    assert answer.status_code == 400
    assert answer.json()["error"] == "certificate_revoked"
    assert "失効" in answer.json()["message"]["ja"] and "revoked" in answer.json()["message"]["en"]
    assert SigningRequest.objects.get(pk=request_id).status == SigningStatus.REFUSED
    assert SecurityEvent.objects.filter(kind="signature_refused", detail__code="certificate_revoked").exists()
    status = client.get(f"/signing/{request_id}/status/").json()
    assert status["status"] == "refused" and "revoked" in status["message"]["en"]
    page = client.post(f"/login/{request_id}/complete/")
    assert page.status_code == 403 and "失効" in page.content.decode()
    assert not Resident.objects.exists()


def test_reused_challenge_is_refused(client, trusted_jpki):
    request_id = start_login(client)
    description = signing_description(client, request_id)
    jws = trusted_jpki.cards.get("yamada-hanako").sign(description, PIN)
    assert _post_jws(request_id, jws).status_code == 200
    replay = _post_jws(request_id, jws)
    assert replay.status_code == 409 and replay.json()["error"] == "request_used"
    client.post(f"/login/{request_id}/complete/")
    again = Client().post(f"/login/{request_id}/complete/")
    assert again.status_code == 404


def test_expired_challenge_is_refused(client, trusted_jpki, settings):
    request_id = start_login(client)
    description = signing_description(client, request_id)
    jws = trusted_jpki.cards.get("yamada-hanako").sign(description, PIN)
    SigningRequest.objects.filter(pk=request_id).update(expires_at=dt.datetime(2020, 1, 1, tzinfo=dt.UTC))
    answer = _post_jws(request_id, jws)
    assert answer.status_code == 410 and answer.json()["error"] == "request_expired"
    assert client.get(f"/signing/{request_id}/", HTTP_ACCEPT="application/json").status_code == 404


def test_signature_for_another_request_is_refused(client, trusted_jpki):
    first = start_login(client)
    second = start_login(Client())
    jws = trusted_jpki.cards.get("yamada-hanako").sign(signing_description(client, first), PIN)
    answer = _post_jws(second, jws)
    assert answer.status_code == 400 and answer.json()["error"] == "signature_for_other_request"


def test_tampered_signature_is_refused(client, trusted_jpki):
    request_id = start_login(client)
    jws = trusted_jpki.cards.get("yamada-hanako").sign(signing_description(client, request_id), PIN)
    header, payload, signature = jws.split(".")
    raw = bytearray(base64.urlsafe_b64decode(signature + "=="))
    raw[10] ^= 0x01
    answer = _post_jws(request_id, f"{header}.{payload}.{_b64(bytes(raw))}")
    assert answer.status_code == 400 and answer.json()["error"] == "bad_signature"


def test_certificate_from_unknown_ca_is_refused(client, trusted_jpki):
    rogue = TestCA.create(common_name="JPKI Test CA")  # same name, different key: a forgery
    key = generate_key()
    certificate = rogue.issue_auth_certificate(key.public_key())
    request_id = start_login(client)
    answer = _post_jws(request_id, _jws(key, certificate, _payload(signing_description(client, request_id))))
    assert answer.status_code == 400 and answer.json()["error"] == "unknown_issuer"


def test_expired_certificate_is_refused(client, trusted_jpki):
    answer = _post_jws(*_expired_certificate(client, trusted_jpki))
    assert answer.status_code == 400 and answer.json()["error"] == "certificate_expired"


def test_signature_certificate_cannot_log_in(client, trusted_jpki):
    card = trusted_jpki.cards.get("yamada-hanako")
    request_id = start_login(client)
    jws = _jws(
        card.signature_key, card.signature_certificate, _payload(signing_description(client, request_id))
    )
    answer = _post_jws(request_id, jws)
    assert answer.status_code == 400 and answer.json()["error"] == "wrong_certificate_kind"


def test_malformed_answers_are_refused_without_server_error(client, trusted_jpki):
    request_id = start_login(client)
    for body in [
        "not json",
        json.dumps({"nope": 1}),
        json.dumps({"jws": "a.b"}),
        json.dumps({"jws": "a.b.c"}),
    ]:
        answer = Client().post(f"/signing/{request_id}/response/", data=body, content_type="application/json")
        assert answer.status_code == 400, body
        assert set(answer.json()["message"]) == {"ja", "en"}
    # Garbage from whoever saw the QR code does not spoil the resident's login.
    assert SigningRequest.objects.get(pk=request_id).status == SigningStatus.PENDING
    assert card_answer(client, trusted_jpki, request_id, "yamada-hanako", PIN).status_code == 200
    unknown = Client().post(
        "/signing/00000000-0000-4000-8000-000000000000/response/",
        data=json.dumps({"jws": "a.b.c"}),
        content_type="application/json",
    )
    assert unknown.status_code in {400, 404}


def test_unreachable_revocation_list_fails_closed(client, trusted_jpki):
    from django.core.cache import cache

    from portal.identity import jpki

    cache.delete(jpki.CRL_CACHE_KEY)
    request_id = start_login(client)
    answer = card_answer(client, trusted_jpki, request_id, "yamada-hanako", PIN)
    assert answer.status_code == 503 and answer.json()["error"] == "revocation_unavailable"


def test_another_browser_cannot_complete_someone_elses_login(client, trusted_jpki):
    request_id = start_login(client)
    assert card_answer(client, trusted_jpki, request_id, "yamada-hanako", PIN).status_code == 200
    thief = Client()
    assert thief.post(f"/login/{request_id}/complete/").status_code == 404
    assert thief.get(f"/signing/{request_id}/status/").status_code == 404
    assert thief.get("/").status_code == 302


def test_login_page_shows_qr_and_card_app_link(client, trusted_jpki):
    page = client.get("/login/").content.decode()
    assert "<svg" in page and "http://127.0.0.1:8002/approve?request=" in page


def test_logout_ends_the_session(client, trusted_jpki):
    login_with_card(client, trusted_jpki, "yamada-hanako")
    assert client.get("/").status_code == 200
    response = client.post("/logout/")
    assert response.status_code == 200
    assert client.get("/").status_code == 302


# --- every refusal: a message in both languages, a security event, nothing made (issue 2, "Bad input") --


def _expired_challenge(client, jpki):
    request_id = start_login(client)
    jws = jpki.cards.get("yamada-hanako").sign(signing_description(client, request_id), PIN)
    SigningRequest.objects.filter(pk=request_id).update(expires_at=dt.datetime(2020, 1, 1, tzinfo=dt.UTC))
    return request_id, jws


def _reused_challenge(client, jpki):
    request_id = start_login(client)
    jws = jpki.cards.get("yamada-hanako").sign(signing_description(client, request_id), PIN)
    assert _post_jws(request_id, jws).status_code == 200
    return request_id, jws


def _tampered_signature(client, jpki):
    request_id = start_login(client)
    header, payload, signature = (
        jpki.cards.get("yamada-hanako").sign(signing_description(client, request_id), PIN).split(".")
    )
    raw = bytearray(base64.urlsafe_b64decode(signature + "=="))
    raw[10] ^= 0x01
    return request_id, f"{header}.{payload}.{_b64(bytes(raw))}"


def _unknown_ca(client, jpki):
    rogue = TestCA.create(common_name="JPKI Test CA")
    key = generate_key()
    request_id = start_login(client)
    certificate = rogue.issue_auth_certificate(key.public_key())
    return request_id, _jws(key, certificate, _payload(signing_description(client, request_id)))


def _expired_certificate(client, jpki):
    key = generate_key()
    now = dt.datetime.now(dt.UTC)
    certificate = jpki.ca.issue_auth_certificate(
        key.public_key(), not_before=now - dt.timedelta(days=400), not_after=now - dt.timedelta(days=1)
    )
    request_id = start_login(client)
    return request_id, _jws(key, certificate, _payload(signing_description(client, request_id)))


def _revoked_certificate(client, jpki):
    request_id = start_login(client)
    return request_id, jpki.cards.get("takahashi-ken").sign(signing_description(client, request_id), PIN)


def _other_request(client, jpki):
    first = start_login(client)
    second = start_login(Client())
    return second, jpki.cards.get("yamada-hanako").sign(signing_description(client, first), PIN)


def _malformed(client, jpki):
    return start_login(client), "a.b.c"


@pytest.mark.parametrize(
    ("make", "status", "code"),
    [
        (_expired_challenge, 410, "request_expired"),
        (_reused_challenge, 409, "request_used"),
        (_tampered_signature, 400, "bad_signature"),
        (_unknown_ca, 400, "unknown_issuer"),
        (_expired_certificate, 400, "certificate_expired"),
        (_revoked_certificate, 400, "certificate_revoked"),
        (_other_request, 400, "signature_for_other_request"),
        (_malformed, 400, "malformed_signature"),
    ],
    ids=lambda value: value.__name__.strip("_") if callable(value) else str(value),
)
def test_each_refused_answer_says_why_in_both_languages_is_recorded_and_makes_nothing(
    client, trusted_jpki, make, status, code
):
    request_id, jws = make(client, trusted_jpki)
    events = SecurityEvent.objects.filter(kind="signature_refused", detail__code=code).count()

    answer = _post_jws(request_id, jws)

    assert answer.status_code == status and answer.json()["error"] == code
    message = answer.json()["message"]
    assert message["ja"] and message["en"] and message["ja"] != message["en"]
    assert message["en"].isascii() and not message["ja"].isascii()
    assert SecurityEvent.objects.filter(kind="signature_refused", detail__code=code).count() == events + 1
    assert not Resident.objects.exists() and not CardCertificate.objects.exists()
    assert client.get("/").status_code == 302  # nobody was logged in


def _register_request(client, jpki) -> str:
    """A first login of 山田 花子 up to the opening of the user folder (its signing request's id)."""
    request_id = start_login(client)
    assert card_answer(client, jpki, request_id, "yamada-hanako", PIN).status_code == 200
    response = client.post(f"/login/{request_id}/complete/")
    return re.search(r"/login/register/([0-9a-f-]+)/", response["Location"]).group(1)


@pytest.mark.parametrize("attrs", [{}, {"my_number": "123456789012"}, {"my_number": 526018159084}])
def test_a_registration_without_a_readable_my_number_is_refused_and_opens_nothing(
    client, trusted_jpki, attrs
):
    register_id = _register_request(client, trusted_jpki)
    card = trusted_jpki.cards.get("yamada-hanako")
    payload = {**_payload(signing_description(client, register_id)), "attrs": attrs}

    answer = _post_jws(register_id, _jws(card.signature_key, card.signature_certificate, payload))

    assert answer.status_code == 400 and answer.json()["error"] == "my_number_unreadable"
    assert "マイナンバー" in answer.json()["message"]["ja"]
    assert "My Number could not be read" in answer.json()["message"]["en"]
    assert SigningRequest.objects.get(pk=register_id).status == SigningStatus.REFUSED
    assert SecurityEvent.objects.filter(detail__code="my_number_unreadable").count() == 1
    page = client.post(f"/login/register/{register_id}/")
    assert page.status_code == 403 and "マイナンバーを正しく読み取れません" in page.content.decode()
    assert not Resident.objects.exists() and not CardCertificate.objects.exists()


def test_every_refusal_that_ends_a_request_tells_the_waiting_browser_why():
    generic = services.signing_refusal_error(SigningRequest(refusal_code="")).message_en
    for code in services.REFUSALS_THAT_END_THE_REQUEST:
        error = services.signing_refusal_error(SigningRequest(refusal_code=code))
        assert error.code == code and error.status == 403
        assert error.message_en != generic and error.message_ja and error.message_en.isascii(), code


def test_the_waiting_page_says_why_in_english_too(client, trusted_jpki):
    client.cookies["django_language"] = "en"
    request_id = start_login(client)
    assert card_answer(client, trusted_jpki, request_id, "takahashi-ken", PIN).status_code == 400
    page = client.post(f"/login/{request_id}/complete/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert '<p class="notice__primary" lang="en">This certificate has been revoked.' in page
    assert "<h1>You could not be logged in</h1>" in page


def test_deeply_nested_json_is_a_malformed_answer_not_a_server_error(client, trusted_jpki):
    request_id = start_login(client)
    body = "[" * 16_000 + "]" * 16_000  # within the size cap, past the JSON decoder's depth
    answer = Client().post(f"/signing/{request_id}/response/", data=body, content_type="application/json")
    assert answer.status_code == 400 and answer.json()["error"] == "malformed_request"
    assert SigningRequest.objects.get(pk=request_id).status == SigningStatus.PENDING
