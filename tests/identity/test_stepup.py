"""The "sign this act" step-up, and the desk-terminal case: only the session resident's own card will do."""

import datetime as dt
import re
import time

import pytest
from django.test import Client
from django.utils import timezone

from portal.identity.middleware import SESSION_LAST_SEEN
from portal.identity.models import Resident, SecurityEvent, SigningRequest, SigningStatus
from tests.helpers import PASSWORD, card_answer, login_with_card

pytestmark = [pytest.mark.django_db, pytest.mark.urls("tests.identity.stepup_urls")]


def _start_transfer(client: Client, amount: str = "100") -> str:
    response = client.get(f"/test-transfer/?amount={amount}")
    assert response.status_code == 302, response
    return re.fullmatch(r"/stepup/([0-9a-f-]+)/", response["Location"]).group(1)


def _finish_transfer(client: Client, request_id: str, amount: str = "100"):
    return client.post(f"/test-transfer/?amount={amount}&stepup={request_id}")


@pytest.fixture
def hanako(client, trusted_jpki) -> Client:
    login_with_card(client, trusted_jpki, "yamada-hanako")
    return client


def test_own_card_signs_the_act_once(hanako, trusted_jpki):
    request_id = _start_transfer(hanako)
    page = hanako.get(f"/stepup/{request_id}/")
    assert page.status_code == 200
    assert "100円を送ります。" in page.content.decode()
    assert "Send 100 yen." in page.content.decode()

    answer = card_answer(hanako, trusted_jpki, request_id, "yamada-hanako", PASSWORD)
    assert answer.status_code == 200, answer.content
    response = _finish_transfer(hanako, request_id)
    assert response.content == b"done:test.transfer:100"
    assert SecurityEvent.objects.filter(kind="stepup", signing_request_id=request_id).count() == 1

    replay = _finish_transfer(hanako, request_id)
    assert replay.status_code == 409 and replay.content == b"request_used"


def test_desk_terminal_other_residents_card_is_refused_and_session_ended(hanako, trusted_jpki):
    # Resident B has a user folder of their own: the 2023 case was a real, registered card.
    login_with_card(Client(), trusted_jpki, "sato-misaki")
    request_id = _start_transfer(hanako)

    answer = card_answer(hanako, trusted_jpki, request_id, "sato-misaki", PASSWORD)
    assert answer.status_code == 403
    body = answer.json()
    assert body["error"] == "stepup_wrong_person"
    assert "ご本人のカードではありません" in body["message"]["ja"]
    assert "not the card of the person logged in" in body["message"]["en"]
    assert "other_resident" not in str(body)

    assert SigningRequest.objects.get(pk=request_id).status == SigningStatus.REFUSED
    event = SecurityEvent.objects.get(kind="desk_terminal_mismatch")
    assert event.resident.name == "山田 花子"
    assert event.detail["other_resident"] is not None

    # The session that asked is over: the next page, and the act itself, go to the login page.
    assert hanako.get("/")["Location"].startswith("/login/")
    assert _finish_transfer(hanako, request_id)["Location"].startswith("/login/")
    assert not SecurityEvent.objects.filter(kind="stepup").exists()


def test_unregistered_card_at_step_up_is_refused_too(hanako, trusted_jpki):
    request_id = _start_transfer(hanako)
    answer = card_answer(hanako, trusted_jpki, request_id, "smith-john", PASSWORD)
    assert answer.status_code == 403 and answer.json()["error"] == "stepup_wrong_person"
    assert "ご本人のカードではありません" in answer.json()["message"]["ja"]
    assert "not the card of the person logged in" in answer.json()["message"]["en"]
    event = SecurityEvent.objects.get(kind="desk_terminal_mismatch")
    assert event.resident.name == "山田 花子" and event.detail.get("other_resident") is None
    assert hanako.get("/")["Location"].startswith("/login/")
    assert not SecurityEvent.objects.filter(kind="stepup").exists()


def test_auth_certificate_cannot_sign_an_act(hanako, trusted_jpki):
    request_id = _start_transfer(hanako)
    description = hanako.get(f"/signing/{request_id}/", HTTP_ACCEPT="application/json").json()
    description["certificate"] = "auth"  # a card app that signs with the wrong certificate
    jws = trusted_jpki.cards.get("yamada-hanako").sign(description, "1234")
    answer = Client().post(f"/signing/{request_id}/response/", {"jws": jws}, content_type="application/json")
    assert answer.status_code == 400
    assert answer.json()["error"] == "wrong_certificate_kind"
    assert _finish_transfer(hanako, request_id).status_code == 403


def test_signature_for_other_content_is_refused_and_recorded(hanako, trusted_jpki):
    request_id = _start_transfer(hanako, amount="100")
    card_answer(hanako, trusted_jpki, request_id, "yamada-hanako", PASSWORD)
    response = _finish_transfer(hanako, request_id, amount="999999")
    assert response.status_code == 403 and response.content == b"stepup_mismatch"
    assert SigningRequest.objects.get(pk=request_id).status == SigningStatus.SIGNED
    event = SecurityEvent.objects.get(kind="stepup_refused")
    assert event.resident.name == "山田 花子" and event.detail["code"] == "stepup_mismatch"
    assert event.detail["act"] == "test.transfer" and event.detail["signing_request"] == request_id
    assert not SecurityEvent.objects.filter(kind="stepup").exists()  # nothing was done
    # The signed act itself still goes through, once, with what was signed.
    assert _finish_transfer(hanako, request_id, amount="100").content == b"done:test.transfer:100"


def test_each_step_up_refusal_says_why_in_both_languages(hanako, trusted_jpki, settings):
    from portal.core.errors import PortalError
    from portal.identity import services
    from portal.identity.views import SESSION_BROWSER_KEY

    resident = Resident.objects.get(name="山田 花子")
    request_id = _start_transfer(hanako)
    browser_key = hanako.session[SESSION_BROWSER_KEY]

    def confirm(amount: str = "100") -> PortalError:
        with pytest.raises(PortalError) as refused:
            services.stepup_confirm(
                request_id=request_id,
                resident=resident,
                browser_key=browser_key,
                act="test.transfer",
                payload={"amount": amount},
            )
        error = refused.value
        assert error.message_ja and not error.message_ja.isascii() and error.message_en.isascii()
        return error

    assert confirm().code == "not_signed_yet"
    card_answer(hanako, trusted_jpki, request_id, "yamada-hanako", PASSWORD)
    assert confirm(amount="999").code == "stepup_mismatch"
    settings.STEP_UP_MAX_AGE = -1
    assert confirm().code == "stepup_stale"
    settings.STEP_UP_MAX_AGE = 300
    assert _finish_transfer(hanako, request_id).content == b"done:test.transfer:100"
    assert confirm().code == "request_used"


def test_stale_signature_is_refused(hanako, trusted_jpki, settings):
    request_id = _start_transfer(hanako)
    card_answer(hanako, trusted_jpki, request_id, "yamada-hanako", PASSWORD)
    settings.STEP_UP_MAX_AGE = 0
    time.sleep(0.01)
    response = _finish_transfer(hanako, request_id)
    assert response.status_code == 410 and response.content == b"stepup_stale"


def test_an_ended_step_up_page_offers_to_start_again_from_where_the_act_was_asked(hanako, trusted_jpki):
    response = hanako.get("/test-transfer/?amount=100", HTTP_REFERER="http://testserver/account/")
    request_id = re.fullmatch(r"/stepup/([0-9a-f-]+)/", response["Location"]).group(1)
    waiting = hanako.get(f"/stepup/{request_id}/").content.decode()
    assert 'id="card-app-link"' in waiting and re.search(r'id="signing-again" hidden', waiting)

    SigningRequest.objects.filter(pk=request_id).update(expires_at=timezone.now() - dt.timedelta(seconds=1))
    for language, text in (("ja", "最初からやり直してください"), ("en", "Please start again")):
        hanako.cookies["django_language"] = language
        ended = hanako.get(f"/stepup/{request_id}/").content.decode()
        assert text in ended
        assert 'id="card-app-link"' not in ended and "<svg" not in ended.split('id="signing-status"')[1]
        again = r'id="signing-again"><a class="button button--primary" href="http://testserver/account/"'
        assert re.search(again, ended)
        assert re.search(r'id="complete-form" hidden', ended)


def test_a_step_up_asked_from_elsewhere_starts_again_from_the_dashboard(hanako, trusted_jpki):
    response = hanako.get("/test-transfer/?amount=100", HTTP_REFERER="https://elsewhere.example/form")
    request_id = re.fullmatch(r"/stepup/([0-9a-f-]+)/", response["Location"]).group(1)
    SigningRequest.objects.filter(pk=request_id).update(status=SigningStatus.CONSUMED)
    ended = hanako.get(f"/stepup/{request_id}/").content.decode()
    assert re.search(r'id="signing-again"><a class="button button--primary" href="/"', ended)


def test_unsigned_or_unknown_request_does_nothing(hanako, trusted_jpki):
    request_id = _start_transfer(hanako)
    assert _finish_transfer(hanako, request_id).content == b"not_signed_yet"
    assert _finish_transfer(hanako, "not-a-uuid").status_code == 404
    assert _finish_transfer(hanako, "00000000-0000-0000-0000-000000000000").status_code == 404


def test_another_browser_of_the_same_resident_cannot_use_the_signature(hanako, trusted_jpki):
    request_id = _start_transfer(hanako)
    card_answer(hanako, trusted_jpki, request_id, "yamada-hanako", PASSWORD)
    other_browser = Client()
    login_with_card(other_browser, trusted_jpki, "yamada-hanako")
    assert _finish_transfer(other_browser, request_id).status_code == 404
    assert _finish_transfer(hanako, request_id).content == b"done:test.transfer:100"


def test_wrong_password_locks_after_the_card_limit(hanako, trusted_jpki):
    from simulators.cardapp.errors import CardLocked, WrongSecret

    request_id = _start_transfer(hanako)
    card = trusted_jpki.cards.get("yamada-hanako")
    description = hanako.get(f"/signing/{request_id}/", HTTP_ACCEPT="application/json").json()
    for _ in range(4):
        with pytest.raises(WrongSecret):
            card.sign(description, "WRONG99")
    with pytest.raises(CardLocked):
        card.sign(description, "WRONG99")
    with pytest.raises(CardLocked):
        card.sign(description, PASSWORD)
    assert SigningRequest.objects.get(pk=request_id).status == SigningStatus.PENDING


def test_idle_session_is_logged_out(hanako, settings):
    session = hanako.session
    session[SESSION_LAST_SEEN] = time.time() - settings.SESSION_IDLE_TIMEOUT - 1
    session.save()
    response = hanako.get("/")
    assert response.status_code == 302 and response["Location"].startswith("/login/")
    page = hanako.get(response["Location"])
    assert "一定時間操作がなかったため" in page.content.decode()


def test_active_session_stays(hanako, settings):
    session = hanako.session
    session[SESSION_LAST_SEEN] = time.time() - settings.SESSION_IDLE_TIMEOUT + 60
    session.save()
    assert hanako.get("/").status_code == 200


def test_staff_sessions_time_out_too(client, settings):
    from portal.identity.models import User

    staff = User.objects.create_superuser("admin-idle", "a long enough password 1")
    client.force_login(staff)
    assert client.get("/staff/admin/").status_code == 200
    session = client.session
    session[SESSION_LAST_SEEN] = time.time() - settings.SESSION_IDLE_TIMEOUT - 1
    session.save()
    response = client.get("/staff/admin/")
    assert response.status_code == 302 and response["Location"].startswith("/staff/admin/login/")
