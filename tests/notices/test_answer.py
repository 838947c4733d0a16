"""Answering a notice: confirm, a form pre-filled from the resident's own information (its display
recorded first), the schema check, the deadline, one answer only, and a signature step-up when asked."""

import datetime as dt
import json
import re

import pytest
from django.utils import timezone

from notices.models import Notice, NoticeResponse, NoticeState, WebhookDelivery
from notices.services import RESPOND_ACT, respond_payload
from portal.history.models import ActorType, Channel, ReleaseRecord
from portal.identity.models import Resident
from portal.identity.services import act_digest
from portal.myinfo.models import CategoryEntry, EntryState
from tests.helpers import PASSWORD, card_answer, login_with_card
from tests.notices.conftest import form_action, logged_in, notice_body, to_resident

pytestmark = pytest.mark.django_db

MEMBERS = [
    {"name": "佐藤 美咲", "relationship": "世帯主", "birth_date": "1990-04-12", "sex": "2"},
    {"name": "佐藤 陽翔", "relationship": "子", "birth_date": "2016-09-03", "sex": "1"},
]
INCOME = {"years": [{"fiscal_year": 2026, "total_income_yen": 2104000}]}


def hold(resident, category: str, data: dict) -> None:
    now = timezone.now()
    CategoryEntry.objects.update_or_create(
        resident=resident,
        category=category,
        defaults={
            "agency_id": "x",
            "state": EntryState.DONE,
            "payload": json.dumps(data, ensure_ascii=False),
            "as_of": now,
            "fetched_at": now,
            "expires_at": now + dt.timedelta(hours=1),
        },
    )


def _send(api, resident, **changes) -> Notice:
    response = api.post_notice(
        notice_body(to_resident(resident), **changes), key=f"k-{Notice.objects.count()}"
    )
    assert response.status_code == 201, response.content
    return Notice.objects.get(public_id=response.json()["id"])


def test_confirm_notice(api, resident):
    notice = _send(api, resident, action={"type": "confirm"})
    client = logged_in(resident)
    response = client.post(f"/notices/{notice.public_id}/respond/", {"confirmed": "on"})
    assert response.status_code == 302 and response["Location"] == f"/notices/{notice.public_id}/receipt/"
    answer = NoticeResponse.objects.get()
    assert json.loads(answer.answers) == {} and not answer.signed
    assert NoticeState.objects.get().responded_at is not None
    receipt = client.get(response["Location"]).content.decode()
    assert answer.receipt_number in receipt
    # Released to the agency, and recorded as such, before anything could reach it.
    record = ReleaseRecord.objects.get(owner=resident, actor_type=ActorType.AGENCY)
    assert record.actor_ref == "municipal-child" and record.channel == Channel.AGENCY_API
    assert record.items == ["confirmation"]


def test_unconfirmed_answer_is_not_sent(api, resident):
    notice = _send(api, resident, action={"type": "confirm"})
    response = logged_in(resident).post(f"/notices/{notice.public_id}/respond/", {})
    assert response.status_code == 422
    assert 'data-code="not_confirmed"' in response.content.decode()
    assert not NoticeResponse.objects.exists()


def test_form_is_prefilled_from_own_information_and_the_display_is_recorded(api, resident):
    hold(resident, "household", {"members": MEMBERS})
    hold(resident, "income_tax", INCOME)
    notice = _send(api, resident, action=form_action())
    client = logged_in(resident)

    page = client.get(f"/notices/{notice.public_id}/")
    html = page.content.decode()
    assert page.status_code == 200
    assert "佐藤 陽翔" in html and "続柄" in html  # the members, as a table with the agency's headings
    assert 'value="2104000"' in html
    # The agency's field order, whatever order the database keeps the schema's keys in.
    positions = [html.index(label) for label in ("世帯の方", "前年の所得", "お子さんと同居", "連絡事項")]
    assert positions == sorted(positions)
    records = ReleaseRecord.objects.filter(owner=resident, purpose="notice_view").order_by("seq")
    assert {r.category: r.items for r in records} == {
        "household": ["members"],
        "income_tax": ["years.0.total_income_yen"],
    }

    response = client.post(
        f"/notices/{notice.public_id}/respond/",
        {"annual_income": "2104000", "living_with_child": "on", "confirmed": "on"},
    )
    assert response.status_code == 302, response.content.decode()
    answers = json.loads(NoticeResponse.objects.get().answers)
    assert answers == {"household_members": MEMBERS, "annual_income": 2104000, "living_with_child": True}


def test_fixed_fields_come_from_the_residents_information_not_the_page(api, resident):
    hold(resident, "household", {"members": MEMBERS})
    notice = _send(api, resident, action=form_action())
    logged_in(resident).post(
        f"/notices/{notice.public_id}/respond/",
        {
            "household_members": json.dumps([{"name": "誰か"}]),
            "annual_income": "1",
            "living_with_child": "on",
            "confirmed": "on",
        },
    )
    assert json.loads(NoticeResponse.objects.get().answers)["household_members"] == MEMBERS


def test_missing_information_is_said_and_the_answer_refused(api, resident):
    notice = _send(api, resident, action=form_action())
    client = logged_in(resident)
    html = client.get(f"/notices/{notice.public_id}/").content.decode()
    assert 'id="prefill-missing"' in html and "世帯" in html
    assert not ReleaseRecord.objects.filter(purpose="notice_view").exists()
    response = client.post(
        f"/notices/{notice.public_id}/respond/",
        {"annual_income": "0", "living_with_child": "on", "confirmed": "on"},
    )
    assert response.status_code == 422
    assert not NoticeResponse.objects.exists()


@pytest.mark.parametrize(
    "posted",
    [
        {"annual_income": "たくさん", "living_with_child": "on"},
        {"annual_income": "-5", "living_with_child": "on"},
        {"annual_income": "100"},  # living_with_child must be true
        {"living_with_child": "on"},  # annual_income is required
        {"annual_income": "100", "living_with_child": "on", "note": "あ" * 401},
    ],
    ids=["not-a-number", "negative", "const", "required", "too-long"],
)
def test_answer_that_fails_the_schema_is_refused_and_nothing_saved(api, resident, posted):
    hold(resident, "household", {"members": MEMBERS})
    notice = _send(api, resident, action=form_action())
    response = logged_in(resident).post(
        f"/notices/{notice.public_id}/respond/", {**posted, "confirmed": "on"}
    )
    assert response.status_code == 422
    html = response.content.decode()
    assert 'data-code="answer_invalid"' in html and "field--error" in html
    assert not NoticeResponse.objects.exists()
    assert not ReleaseRecord.objects.filter(actor_type=ActorType.AGENCY).exists()
    assert not NoticeState.objects.filter(responded_at__isnull=False).exists()


def test_answer_after_the_deadline_is_refused(api, resident):
    notice = _send(api, resident, action={"type": "confirm"})
    Notice.objects.filter(pk=notice.pk).update(deadline=timezone.now() - dt.timedelta(minutes=1))
    client = logged_in(resident)
    assert 'id="closed"' in client.get(f"/notices/{notice.public_id}/").content.decode()
    response = client.post(f"/notices/{notice.public_id}/respond/", {"confirmed": "on"})
    assert response.status_code == 422
    assert 'data-code="deadline_passed"' in response.content.decode()
    assert not NoticeResponse.objects.exists()
    assert not ReleaseRecord.objects.filter(actor_type=ActorType.AGENCY).exists()


def test_second_answer_is_refused(api, resident):
    notice = _send(api, resident, action={"type": "confirm"})
    client = logged_in(resident)
    client.post(f"/notices/{notice.public_id}/respond/", {"confirmed": "on"})
    again = client.post(f"/notices/{notice.public_id}/respond/", {"confirmed": "on"})
    assert again.status_code == 409
    assert NoticeResponse.objects.count() == 1


def test_notice_without_action_takes_no_answer(api, resident):
    notice = _send(api, resident)
    response = logged_in(resident).post(f"/notices/{notice.public_id}/respond/", {"confirmed": "on"})
    assert response.status_code == 400
    assert not NoticeResponse.objects.exists()


def test_answer_queues_a_webhook_delivery_when_the_agency_has_one(api, resident, agency_client):
    agency_client.webhook_url = "http://127.0.0.1:9/hook"
    agency_client.save(update_fields=["webhook_url"])
    notice = _send(api, resident, action={"type": "confirm"})
    logged_in(resident).post(f"/notices/{notice.public_id}/respond/", {"confirmed": "on"})
    delivery = WebhookDelivery.objects.get()
    assert delivery.state == "pending" and delivery.response == NoticeResponse.objects.get()


# --- the signature step-up ------------------------------------------------------------------------------


@pytest.fixture
def misaki(client, trusted_jpki) -> Resident:
    login_with_card(client, trusted_jpki, "sato-misaki")
    return Resident.objects.get(name="佐藤 美咲")


def _start_signed_answer(client, notice) -> str:
    response = client.post(
        f"/notices/{notice.public_id}/respond/",
        {"annual_income": "2104000", "living_with_child": "on", "confirmed": "on"},
    )
    assert response.status_code == 302, response.content.decode()
    return re.fullmatch(r"/stepup/([0-9a-f-]+)/", response["Location"]).group(1)


def test_signature_required_answer_goes_through_the_step_up(api, client, trusted_jpki, misaki):
    hold(misaki, "household", {"members": MEMBERS})
    notice = _send(api, misaki, action=form_action(requires_signature=True))
    assert "署名して送信する" in client.get(f"/notices/{notice.public_id}/").content.decode()

    request_id = _start_signed_answer(client, notice)
    assert not NoticeResponse.objects.exists()
    page = client.get(f"/stepup/{request_id}/").content.decode()
    assert "児童扶養手当の現況届のご案内" in page and f"/notices/{notice.public_id}/respond/?stepup=" in page

    assert card_answer(client, trusted_jpki, request_id, "sato-misaki", PASSWORD).status_code == 200
    done = client.post(f"/notices/{notice.public_id}/respond/?stepup={request_id}")
    assert done.status_code == 302 and done["Location"].endswith("/receipt/")

    answer = NoticeResponse.objects.get()
    answers = json.loads(answer.answers)
    assert answers["household_members"] == MEMBERS and answers["annual_income"] == 2104000
    assert answer.signed and answer.stepup_request_id == request_id
    assert answer.stepup_act_digest == act_digest(
        RESPOND_ACT, respond_payload(notice=notice, answers=answers)
    )
    assert "署名済み" in client.get(done["Location"]).content.decode()


def test_signature_required_answer_is_not_stored_unsigned(api, client, trusted_jpki, misaki):
    hold(misaki, "household", {"members": MEMBERS})
    notice = _send(api, misaki, action=form_action(requires_signature=True))
    request_id = _start_signed_answer(client, notice)
    response = client.post(f"/notices/{notice.public_id}/respond/?stepup={request_id}")
    assert response.status_code == 409  # not signed yet
    assert not NoticeResponse.objects.exists()


def test_another_residents_card_cannot_sign_the_answer(api, client, trusted_jpki, misaki):
    hold(misaki, "household", {"members": MEMBERS})
    notice = _send(api, misaki, action=form_action(requires_signature=True))
    request_id = _start_signed_answer(client, notice)
    answer = card_answer(client, trusted_jpki, request_id, "yamada-hanako", PASSWORD)
    assert answer.status_code == 403
    response = client.post(f"/notices/{notice.public_id}/respond/?stepup={request_id}")
    assert response.status_code == 302 and response["Location"].startswith("/login/")  # session ended
    assert not NoticeResponse.objects.exists()


def test_the_service_itself_refuses_another_residents_notice(api, resident, other_resident):
    from notices.services import notice_respond
    from portal.core.errors import PortalError

    notice = _send(api, resident, action={"type": "confirm"})
    with pytest.raises(PortalError) as refused:
        notice_respond(resident=other_resident, notice=notice, answers={}, proof=None)
    assert refused.value.status == 404
    assert not NoticeResponse.objects.exists() and not ReleaseRecord.objects.exists()
