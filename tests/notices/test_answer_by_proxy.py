"""A proxy answers a notice for the principal (issue 7, "answer notices"): only under the scope to answer,
only the principal's own notices, signed with the proxy's own card when asked, recorded with the proxy as
actor, named to the agency as a proxy (no universal key), and told to the principal."""

import datetime as dt
import importlib
import json
import re

import pytest
from django.apps import apps
from django.utils import timezone

from notices.models import Notice, NoticeResponse, NoticeState, WebhookDelivery
from notices.services import RESPOND_ACT, notice_respond, respond_payload
from portal.core.errors import PortalError
from portal.history.models import ActorType, Channel, ReleaseAlert, ReleaseRecord
from portal.history.presentation import describe
from portal.identity.models import CardCertificate, Resident, SecurityEvent
from portal.identity.services import StepUpProof, act_digest
from portal.proxies import services as proxy_services
from portal.proxies.access import out_of_scope
from portal.proxies.models import GrantKind, ProxyGrant
from portal.proxies.scopes import NOTICES_ANSWER, NOTICES_READ
from tests.factories import ResidentFactory
from tests.helpers import PASSWORD, card_answer, login_with_card
from tests.notices.conftest import code_of, form_action, logged_in, notice_body, to_resident
from tests.notices.test_answer import hold
from tests.proxies.conftest import grant_between

pytestmark = pytest.mark.django_db

HIS_MEMBERS = [{"name": "田中 和夫", "relationship": "世帯主", "birth_date": "1942-01-20", "sex": "1"}]
HIS_INCOME = {"years": [{"fiscal_year": 2026, "total_income_yen": 1830000}]}


def _send(api, resident, **changes) -> Notice:
    response = api.post_notice(
        notice_body(to_resident(resident), **changes), key=f"k-{Notice.objects.count()}"
    )
    assert response.status_code == 201, response.content
    return Notice.objects.get(public_id=response.json()["id"])


def _acting(proxy, grant):
    client = logged_in(proxy)
    assert client.post(f"/proxies/{grant.public_id}/act/").status_code == 302
    return client


@pytest.fixture
def kazuo(db):
    return ResidentFactory(name="田中 和夫", name_kana="タナカ カズオ", birth_date=dt.date(1942, 1, 20))


@pytest.fixture
def yuki(db):
    return ResidentFactory(name="田中 由紀", name_kana="タナカ ユキ")


def _nothing_sent(notice) -> None:
    assert not NoticeResponse.objects.filter(notice=notice).exists()
    assert not WebhookDelivery.objects.exists()
    assert not ReleaseRecord.objects.filter(channel=Channel.AGENCY_API).exists()
    assert not NoticeState.objects.filter(notice=notice, responded_at__isnull=False).exists()


# --- allowed -------------------------------------------------------------------------------------------


def test_a_proxy_with_the_scope_answers_the_principals_notice(api, kazuo, yuki):
    notice = _send(api, kazuo, action={"type": "confirm"})
    grant = grant_between(kazuo, yuki, [NOTICES_ANSWER])
    client = _acting(yuki, grant)

    page = client.get(f"/notices/{notice.public_id}/").content.decode()
    assert (
        'id="answer-form"' in page and 'id="answering-for"' in page and "田中 和夫さんの代理人として" in page
    )
    assert 'id="archive"' not in page  # archiving stays the principal's
    client.cookies["django_language"] = "en"
    english = client.get(f"/notices/{notice.public_id}/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "You answer as the proxy of 田中 和夫." in english
    client.cookies["django_language"] = "ja"

    response = client.post(f"/notices/{notice.public_id}/respond/", {"confirmed": "on"})
    assert response.status_code == 302 and response["Location"] == f"/notices/{notice.public_id}/receipt/"
    answer = NoticeResponse.objects.get()
    assert answer.resident == kazuo and answer.proxy == yuki and answer.proxy_grant == grant
    receipt = client.get(response["Location"]).content.decode()
    assert answer.receipt_number in receipt and "代理人 田中 由紀（田中 和夫さんの代理）" in receipt

    # Answered for him, not read by him: the notice stays unread in his inbox.
    state = NoticeState.objects.get(resident=kazuo, notice=notice)
    assert state.responded_at is not None and state.read_at is None


def test_the_release_to_the_agency_names_the_proxy_as_actor_and_the_principal_as_owner(api, kazuo, yuki):
    notice = _send(api, kazuo, action={"type": "confirm"})
    grant = grant_between(kazuo, yuki, [NOTICES_ANSWER])
    _acting(yuki, grant).post(f"/notices/{notice.public_id}/respond/", {"confirmed": "on"})

    record = ReleaseRecord.objects.get(owner=kazuo, channel=Channel.AGENCY_API)
    assert record.actor_type == ActorType.PROXY and record.actor_ref == str(yuki.public_id)
    assert record.actor_label == "田中 由紀" and record.items == ["confirmation"]
    assert "代理人による回答" in record.purpose and "市区町村 子育て支援課" in record.purpose
    assert describe(record, "ja").startswith("代理人の田中 由紀さんが、")
    assert describe(record, "ja").endswith("あなたのお知らせを行政機関に送信しました。")
    assert describe(record, "en").startswith("Your proxy 田中 由紀 sent your notices to an agency for ")
    # Her name and her code at the agency went out too: recorded in her own history.
    own = ReleaseRecord.objects.get(owner=yuki, channel=Channel.AGENCY_API)
    assert own.actor_type == ActorType.AGENCY and own.actor_ref == "municipal-child"
    assert own.category == "identity" and own.items == ["name", "agency_code"]
    assert "田中 和夫さんの代理人" in own.purpose


def test_the_principal_is_told_and_his_notice_says_who_answered_and_when(
    api, kazuo, yuki, django_capture_on_commit_callbacks, monkeypatch
):
    announced = []
    monkeypatch.setattr("notices.tasks.announce_notice.delay", lambda notice_id: announced.append(notice_id))
    notice = _send(api, kazuo, action={"type": "confirm"})
    announced.clear()
    grant = grant_between(kazuo, yuki, [NOTICES_ANSWER])
    client = _acting(yuki, grant)
    with django_capture_on_commit_callbacks(execute=True):
        client.post(f"/notices/{notice.public_id}/respond/", {"confirmed": "on"})
    answer = NoticeResponse.objects.get()

    told = Notice.objects.get(recipient=kazuo, agency_id="myna-portal")
    assert (
        told.title_ja == "代理人がお知らせに回答しました" and told.title_en == "Your proxy answered a notice"
    )
    assert "田中 由紀" in told.body_ja and answer.receipt_number in told.body_ja
    assert "田中 由紀" in told.body_en and answer.receipt_number in told.body_en
    assert announced == [told.pk]  # pushed like any notice (what arrived, never its content)

    his = logged_in(kazuo)
    page = his.get(f"/notices/{notice.public_id}/").content.decode()
    when = timezone.localtime(answer.submitted_at).strftime("%Y-%m-%d %H:%M")
    assert re.search(rf'id="answered-by">{when} に代理人の田中 由紀さんが回答しました。', page)
    assert 'id="answer-form"' not in page
    his.cookies["django_language"] = "en"
    english = his.get(f"/notices/{notice.public_id}/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert f'id="answered-by">Answered on {when} by your proxy 田中 由紀.' in english


def test_the_principal_is_told_once_of_one_proxy_answer_and_still_alerted_of_her_reads(
    api, kazuo, yuki, django_capture_on_commit_callbacks, monkeypatch
):
    """One answer, one notification: the portal's notice saying who answered what, announced once; the
    access-history record of the answer makes no second "your proxy read your data" alert. Her reading
    the notice first is a read, and alerts as before."""
    from portal.notify.tasks import notify_resident

    announced, pushed = [], []
    monkeypatch.setattr("notices.tasks.announce_notice.delay", lambda notice_id: announced.append(notice_id))
    monkeypatch.setattr(notify_resident, "delay", lambda **message: pushed.append(message))
    notice = _send(api, kazuo, action={"type": "confirm"})
    announced.clear()
    client = _acting(yuki, grant_between(kazuo, yuki, [NOTICES_ANSWER]))

    with django_capture_on_commit_callbacks(execute=True):
        assert client.get(f"/notices/{notice.public_id}/").status_code == 200
    read_alert = ReleaseAlert.objects.get(resident=kazuo)
    assert read_alert.actor_type == ActorType.PROXY and read_alert.actor_label == "田中 由紀"
    assert [m["kind"] for m in pushed if m["resident_id"] == kazuo.pk] == ["release_alert"]
    pushed.clear()

    with django_capture_on_commit_callbacks(execute=True):
        client.post(f"/notices/{notice.public_id}/respond/", {"confirmed": "on"})
    answer = NoticeResponse.objects.get()
    told = Notice.objects.filter(recipient=kazuo, agency_id="myna-portal")
    alerts = ReleaseAlert.objects.filter(resident=kazuo).exclude(pk=read_alert.pk)
    pushes = [m for m in pushed if m["resident_id"] == kazuo.pk]
    assert told.count() + alerts.count() == 1 and told.count() == 1
    assert announced == [told.get().pk] and pushes == []
    assert "田中 由紀" in told.get().body_ja and answer.receipt_number in told.get().body_ja
    # The answer is in his history all the same, with her as actor.
    assert ReleaseRecord.objects.filter(owner=kazuo, channel=Channel.AGENCY_API, actor_type=ActorType.PROXY)


def test_a_form_is_prefilled_from_the_principals_information_recorded_as_seen_by_the_proxy(api, kazuo, yuki):
    hold(kazuo, "household", {"members": HIS_MEMBERS})
    hold(kazuo, "income_tax", HIS_INCOME)
    notice = _send(api, kazuo, action=form_action())
    client = _acting(yuki, grant_between(kazuo, yuki, [NOTICES_ANSWER]))

    page = client.get(f"/notices/{notice.public_id}/").content.decode()
    assert 'value="1830000"' in page and "ご本人の情報から入力しました" in page
    shown = ReleaseRecord.objects.filter(owner=kazuo, purpose="notice_view", category="household").get()
    assert shown.actor_type == ActorType.PROXY and shown.actor_label == "田中 由紀"
    assert not ReleaseRecord.objects.filter(owner=yuki, category__in=["household", "income_tax"]).exists()

    client.post(
        f"/notices/{notice.public_id}/respond/",
        {"annual_income": "1830000", "living_with_child": "on", "confirmed": "on"},
    )
    answers = json.loads(NoticeResponse.objects.get(resident=kazuo).answers)
    assert answers["household_members"] == HIS_MEMBERS  # his record, never hers or the page's


def test_a_protected_address_is_not_shown_to_the_proxy_but_reaches_the_agency(api, kazuo, yuki):
    members = [{**HIS_MEMBERS[0], "address": "大阪府大阪市北区中之島一丁目3番20号"}]
    hold(kazuo, "household", {"members": members})
    hold(kazuo, "income_tax", HIS_INCOME)
    kazuo.address_protected = True
    kazuo.save(update_fields=["address_protected"])
    notice = _send(api, kazuo, action=form_action())
    client = _acting(yuki, grant_between(kazuo, yuki, [NOTICES_ANSWER]))
    page = client.get(f"/notices/{notice.public_id}/").content.decode()
    assert "田中 和夫" in page and "中之島" not in page
    client.post(
        f"/notices/{notice.public_id}/respond/",
        {"annual_income": "1830000", "living_with_child": "on", "confirmed": "on"},
    )
    assert json.loads(NoticeResponse.objects.get().answers)["household_members"] == members


# --- refused -------------------------------------------------------------------------------------------


def test_without_the_scope_no_form_is_offered_and_an_answer_is_refused(api, kazuo, yuki):
    notice = _send(api, kazuo, action={"type": "confirm"})
    client = _acting(yuki, grant_between(kazuo, yuki, [NOTICES_READ]))
    page = client.get(f"/notices/{notice.public_id}/").content.decode()
    assert 'id="answer-form"' not in page and 'id="answer-not-granted"' in page

    refused = client.post(f"/notices/{notice.public_id}/respond/", {"confirmed": "on"})
    body = refused.content.decode()
    assert refused.status_code == 403 and 'data-code="out_of_scope"' in body
    assert "この方のお知らせに回答することは認められていません" in body
    english = client.post(
        f"/notices/{notice.public_id}/respond/", {"confirmed": "on"}, HTTP_ACCEPT="application/json"
    ).json()
    assert english["error"] == "out_of_scope" and "answer my notices" in english["message"]["en"]
    _nothing_sent(notice)


def test_the_refusal_reads_in_both_languages():
    error = out_of_scope(NOTICES_ANSWER)
    assert error.status == 403 and "回答" in error.message_ja and "answering" in error.message_en


@pytest.mark.parametrize("how", ["expired", "ended"])
def test_an_expired_or_ended_grant_answers_nothing(api, kazuo, yuki, how):
    notice = _send(api, kazuo, action={"type": "confirm"})
    grant = grant_between(kazuo, yuki, [NOTICES_ANSWER])
    client = _acting(yuki, grant)
    if how == "expired":
        ProxyGrant.objects.filter(pk=grant.pk).update(ends_on=timezone.localdate() - dt.timedelta(days=1))
    else:
        proxy_services.grant_end(resident=kazuo, grant_public_id=grant.public_id)
    # Her session is her own again, and his notice is not in her inbox.
    assert client.post(f"/notices/{notice.public_id}/respond/", {"confirmed": "on"}).status_code == 404
    _nothing_sent(notice)


def test_a_grant_that_ends_while_signing_sends_nothing(api, kazuo, yuki):
    notice = _send(api, kazuo, action={"type": "confirm"})
    grant = grant_between(kazuo, yuki, [NOTICES_ANSWER])
    proxy_services.grant_end(resident=yuki, grant_public_id=grant.public_id)
    with pytest.raises(PortalError) as refused:
        notice_respond(resident=kazuo, notice=notice, answers={}, proof=None, grant=grant)
    assert refused.value.code == "grant_not_usable" and refused.value.status == 403
    _nothing_sent(notice)


def test_the_service_refuses_a_grant_without_the_scope_or_for_someone_else(api, kazuo, yuki):
    notice = _send(api, kazuo, action={"type": "confirm"})
    reading_only = grant_between(kazuo, yuki, [NOTICES_READ])
    with pytest.raises(PortalError) as refused:
        notice_respond(resident=kazuo, notice=notice, answers={}, proof=None, grant=reading_only)
    assert refused.value.code == "out_of_scope"
    someone = ResidentFactory(name_kana="ヤマダ ハナコ")
    theirs = grant_between(someone, yuki, [NOTICES_ANSWER])
    with pytest.raises(PortalError) as refused:
        notice_respond(resident=kazuo, notice=notice, answers={}, proof=None, grant=theirs)
    assert refused.value.code == "grant_not_usable"
    _nothing_sent(notice)


def test_guessed_notice_ids_of_others_are_not_found(api, kazuo, yuki):
    someone = ResidentFactory(
        name_kana="ヤマダ ハナコ", address="東京都新宿区西新宿二丁目8番1号", birth_date=dt.date(1970, 1, 1)
    )
    theirs = _send(api, someone, action={"type": "confirm"})
    hers = _send(api, yuki, action={"type": "confirm"})
    client = _acting(yuki, grant_between(kazuo, yuki, [NOTICES_ANSWER]))
    for notice in (theirs, hers):
        response = client.post(f"/notices/{notice.public_id}/respond/", {"confirmed": "on"})
        assert response.status_code == 404
        _nothing_sent(notice)


def test_a_parents_and_a_guardians_full_scope_includes_answering(kazuo, yuki):
    from portal.proxies.scopes import SCOPE_CODES

    assert NOTICES_ANSWER in SCOPE_CODES  # parents.py and guardians.py grant every scope
    grant = grant_between(kazuo, yuki, [NOTICES_READ])
    ProxyGrant.objects.filter(pk=grant.pk).update(kind=GrantKind.GUARDIAN, scopes=[NOTICES_READ])
    migration = importlib.import_module("portal.proxies.migrations.0004_full_scope_grants_answer_notices")
    migration.add_answer_scope(apps, None)
    grant.refresh_from_db()
    assert grant.scopes == [NOTICES_ANSWER, NOTICES_READ]
    voluntary = grant_between(kazuo, ResidentFactory(name_kana="ヤマダ ハナコ"), [NOTICES_READ])
    migration.add_answer_scope(apps, None)
    voluntary.refresh_from_db()
    assert voluntary.scopes == [NOTICES_READ]  # only what the principal signed


# --- the signature: the proxy's own card ---------------------------------------------------------------


@pytest.fixture
def carded(trusted_jpki, client):
    """Father and daughter with their own cards (user folders opened by their first logins)."""
    login_with_card(client, trusted_jpki, "tanaka-kazuo")
    client.logout()
    login_with_card(client, trusted_jpki, "tanaka-yuki")
    father = Resident.objects.get(name="田中 和夫")
    daughter = Resident.objects.get(name="田中 由紀")
    grant = grant_between(father, daughter, [NOTICES_ANSWER])
    assert client.post(f"/proxies/{grant.public_id}/act/").status_code == 302
    return father, daughter, grant


def _start_signing(client, notice) -> str:
    response = client.post(
        f"/notices/{notice.public_id}/respond/",
        {"annual_income": "1830000", "living_with_child": "on", "confirmed": "on"},
    )
    assert response.status_code == 302, response.content.decode()
    return re.fullmatch(r"/stepup/([0-9a-f-]+)/", response["Location"]).group(1)


def test_the_proxy_signs_with_her_own_card_for_him(api, client, trusted_jpki, carded):
    father, daughter, grant = carded
    hold(father, "household", {"members": HIS_MEMBERS})
    notice = _send(api, father, action=form_action(requires_signature=True))
    request_id = _start_signing(client, notice)
    page = client.get(f"/stepup/{request_id}/")
    assert page.status_code == 200 and "田中 和夫さんの代理人として" in page.content.decode()
    description = client.get(f"/signing/{request_id}/").json()
    assert description["summary"]["en"].startswith("On behalf of 田中 和夫, answer the notice")

    assert card_answer(client, trusted_jpki, request_id, "tanaka-yuki", PASSWORD).status_code == 200
    assert client.get(f"/signing/{request_id}/status/").json()["status"] == "signed"
    done = client.post(f"/notices/{notice.public_id}/respond/?stepup={request_id}")
    assert done.status_code == 302 and done["Location"].endswith("/receipt/")

    answer = NoticeResponse.objects.get()
    answers = json.loads(answer.answers)
    assert answer.signed and answer.proxy == daughter and answer.resident == father
    assert answer.stepup_act_digest == act_digest(
        RESPOND_ACT, respond_payload(notice=notice, answers=answers, grant=grant)
    )
    assert CardCertificate.objects.get(serial_hash=answer.signer_serial_hash).resident == daughter


def test_his_card_cannot_sign_in_her_session(api, client, trusted_jpki, carded):
    father, daughter, _ = carded
    hold(father, "household", {"members": HIS_MEMBERS})
    notice = _send(api, father, action=form_action(requires_signature=True))
    request_id = _start_signing(client, notice)
    refused = card_answer(client, trusted_jpki, request_id, "tanaka-kazuo", PASSWORD)
    assert refused.status_code == 403 and refused.json()["error"] == "stepup_wrong_person"
    assert SecurityEvent.objects.filter(kind="desk_terminal_mismatch", resident=daughter).exists()
    response = client.post(f"/notices/{notice.public_id}/respond/?stepup={request_id}")
    assert response.status_code == 302 and response["Location"].startswith("/login/")  # her session ended
    _nothing_sent(notice)


def test_the_service_refuses_a_proof_signed_with_another_card(api, carded):
    father, daughter, grant = carded
    notice = _send(api, father, action={"type": "confirm", "requires_signature": True})
    digest = act_digest(RESPOND_ACT, respond_payload(notice=notice, answers={}, grant=grant))
    his_card = CardCertificate.objects.filter(resident=father).first().serial_hash
    proof = StepUpProof(
        request_id="x",
        act=RESPOND_ACT,
        act_digest=digest,
        signed_at=timezone.now(),
        signer_serial_hash=his_card,
    )
    with pytest.raises(PortalError) as refused:
        notice_respond(resident=father, notice=notice, answers={}, proof=proof, grant=grant)
    assert refused.value.code == "signature_not_answerers" and refused.value.status == 403
    # A proof for answering on her own (no grant in what was signed) does not fit an answer for him.
    own_digest = act_digest(RESPOND_ACT, respond_payload(notice=notice, answers={}))
    hers = CardCertificate.objects.filter(resident=daughter).first().serial_hash
    proof = StepUpProof(
        request_id="x",
        act=RESPOND_ACT,
        act_digest=own_digest,
        signed_at=timezone.now(),
        signer_serial_hash=hers,
    )
    with pytest.raises(PortalError) as refused:
        notice_respond(resident=father, notice=notice, answers={}, proof=proof, grant=grant)
    assert refused.value.code == "signature_required"
    _nothing_sent(notice)


# --- what the agency receives --------------------------------------------------------------------------


def test_the_webhook_and_the_api_say_a_proxy_answered_without_a_universal_key(
    api, agency_client, kazuo, yuki
):
    agency_client.webhook_url = "http://127.0.0.1:9/hook"
    agency_client.save(update_fields=["webhook_url"])
    notice = _send(api, kazuo, action={"type": "confirm"})
    grant = grant_between(kazuo, yuki, [NOTICES_ANSWER])
    _acting(yuki, grant).post(f"/notices/{notice.public_id}/respond/", {"confirmed": "on"})

    delivery = WebhookDelivery.objects.get()
    event = json.loads(delivery.payload)
    assert event["response"]["agency_code"] == code_of(kazuo)
    assert event["response"]["answered_by"] == {
        "kind": "proxy",
        "relationship": "voluntary",
        "name": "田中 由紀",
        "agency_code": code_of(yuki),
    }
    for secret in (yuki.my_number, kazuo.my_number, str(yuki.public_id), str(grant.public_id)):
        assert secret not in delivery.payload
    for serial in CardCertificate.objects.values_list("serial_hash", flat=True):
        assert serial not in delivery.payload

    listed = api.get(f"notices/{notice.public_id}/responses").json()["results"]
    assert listed[0]["answered_by"] == event["response"]["answered_by"]


def test_an_own_answer_says_the_resident_answered(api, agency_client, kazuo):
    agency_client.webhook_url = "http://127.0.0.1:9/hook"
    agency_client.save(update_fields=["webhook_url"])
    notice = _send(api, kazuo, action={"type": "confirm"})
    logged_in(kazuo).post(f"/notices/{notice.public_id}/respond/", {"confirmed": "on"})
    event = json.loads(WebhookDelivery.objects.get().payload)
    assert event["response"]["answered_by"] == {"kind": "resident"}
