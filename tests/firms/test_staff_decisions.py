"""Staff decide in the admin: approve (sandbox client), reject only with a reason, allow production,
suspend and resume, record a change of controller. Each is told to the firm by e-mail; suspension and a
change of controller reach the consent side by signals sent only after the commit."""

import datetime as dt

import pytest
from django.core import mail
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from portal.core.errors import PortalError
from portal.firms import services, signals
from portal.firms.models import ClientEnvironment, ControllerChange, FirmEventKind, FirmState
from portal.firms.validation import FirmInputInvalid
from tests.factories import ResidentFactory
from tests.firms.conftest import active_consent, apply

pytestmark = pytest.mark.django_db

CHANGELIST = "/staff/admin/firms/firm/"


@pytest.fixture
def heard():
    """What each signal delivered, in order."""
    received: list[tuple] = []

    def on_suspended(sender, firm, **kwargs):
        received.append(("suspended", firm.pk))

    def on_unsuspended(sender, firm, **kwargs):
        received.append(("unsuspended", firm.pk))

    def on_changed(sender, firm, change, **kwargs):
        received.append(("controller_changed", firm.pk, change.pk, firm.corporate_number))

    signals.firm_suspended.connect(on_suspended)
    signals.firm_unsuspended.connect(on_unsuspended)
    signals.controller_changed.connect(on_changed)
    yield received
    signals.firm_suspended.disconnect(on_suspended)
    signals.firm_unsuspended.disconnect(on_unsuspended)
    signals.controller_changed.disconnect(on_changed)


def _action(client, name: str, firm, **extra):
    return client.post(CHANGELIST, {"action": name, "_selected_action": [firm.pk], **extra}, follow=True)


def test_staff_see_the_applications_and_one_in_full(staff_client, applied):
    firm, token = applied
    listing = staff_client.get(CHANGELIST)
    assert listing.status_code == 200 and "つばめ信用金庫" in listing.content.decode()
    page = staff_client.get(reverse("admin:firms_firm_change", args=[firm.pk]))
    text = page.content.decode()
    assert page.status_code == 200 and "loan-screening" in text and "controller-change/" in text
    assert token not in text and firm.manage_token_hash not in text


def test_approve_makes_the_sandbox_client_and_tells_the_firm(
    staff_client, staff, applied, eager, django_capture_on_commit_callbacks
):
    firm, _ = applied
    with django_capture_on_commit_callbacks(execute=True):
        response = _action(staff_client, "approve", firm)
    assert "1 件を承認しました" in response.content.decode()
    firm.refresh_from_db()
    assert firm.state == FirmState.APPROVED and firm.reviewed_by == staff and firm.reviewed_at is not None
    (sandbox,) = firm.clients.all()
    assert sandbox.environment == ClientEnvironment.SANDBOX and len(sandbox.client_id) >= 32
    assert (sandbox.redirect_uris, sandbox.jwks, sandbox.callback_url) == (
        firm.redirect_uris,
        firm.jwks,
        firm.callback_url,
    )
    (message,) = mail.outbox
    assert message.to == ["api@tsubame.example"] and "承認されました" in message.subject
    assert sandbox.client_id in message.body and "/.well-known/openid-configuration" in message.body
    assert firm.events.get(kind=FirmEventKind.APPROVED).mailed_at is not None


def test_approving_twice_is_refused_with_a_message(staff_client, approved):
    response = _action(staff_client, "approve", approved)
    assert "審査中の申請だけを承認できます" in response.content.decode()
    assert approved.clients.count() == 1


def test_reject_asks_a_reason_and_refuses_without_one(staff_client, applied):
    firm, _ = applied
    asked = _action(staff_client, "reject", firm)
    assert asked.status_code == 200 and 'name="reason"' in asked.content.decode()
    empty = _action(staff_client, "reject", firm, apply="1", reason="  ")
    assert empty.status_code == 200 and "errorlist" in empty.content.decode()
    firm.refresh_from_db()
    assert firm.state == FirmState.APPLIED and firm.reviewed_at is None


def test_reject_with_a_reason(staff_client, staff, applied, eager, django_capture_on_commit_callbacks):
    firm, _ = applied
    with django_capture_on_commit_callbacks(execute=True):
        response = _action(
            staff_client, "reject", firm, apply="1", reason="プライバシーポリシーが見つかりません"
        )
    assert "不承認にしました" in response.content.decode()
    firm.refresh_from_db()
    assert firm.state == FirmState.REJECTED and firm.decision_reason == "プライバシーポリシーが見つかりません"
    assert firm.reviewed_by == staff and not firm.clients.exists()
    (message,) = mail.outbox
    assert (
        "承認されませんでした" in message.subject and "プライバシーポリシーが見つかりません" in message.body
    )


@pytest.mark.parametrize("reason", ["", "   ", "x" * 401])
def test_the_service_refuses_a_rejection_without_a_usable_reason(applied, staff, reason):
    firm, _ = applied
    with pytest.raises(PortalError) as raised:
        services.firm_reject(firm_id=firm.pk, staff=staff, reason=reason)
    assert raised.value.code in {"reason_required", "reason_too_long"}
    firm.refresh_from_db()
    assert firm.state == FirmState.APPLIED


def test_production_only_after_approval_and_once(
    staff_client, staff, applied, eager, django_capture_on_commit_callbacks
):
    firm, _ = applied
    early = _action(staff_client, "allow_production", firm)
    assert "承認済みで停止されていない事業者だけ" in early.content.decode()
    services.firm_approve(firm_id=firm.pk, staff=staff)
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        _action(staff_client, "allow_production", firm)
    firm.refresh_from_db()
    production = firm.clients.get(environment=ClientEnvironment.PRODUCTION)
    assert (
        firm.production_allowed and production.client_id != firm.clients.get(environment="sandbox").client_id
    )
    (message,) = mail.outbox
    assert production.client_id in message.body and "本番環境" in message.subject
    again = _action(staff_client, "allow_production", firm)
    assert "すでに本番環境を認めています" in again.content.decode() and firm.clients.count() == 2


def test_suspend_asks_a_reason_and_signals_after_the_commit(
    staff_client, approved, heard, eager, django_capture_on_commit_callbacks
):
    assert "errorlist" in _action(staff_client, "suspend", approved, apply="1", reason="").content.decode()
    approved.refresh_from_db()
    assert approved.state == FirmState.APPROVED and heard == []

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        _action(staff_client, "suspend", approved, apply="1", reason="苦情が多数")
        assert heard == []  # not before the commit
    assert heard == [("suspended", approved.pk)] and len(callbacks) == 2  # the signal and the mail
    approved.refresh_from_db()
    assert approved.state == FirmState.SUSPENDED and approved.suspended_at is not None
    assert approved.decision_reason == "苦情が多数"
    (message,) = mail.outbox
    assert "停止されました" in message.subject and "苦情が多数" in message.body


def test_a_suspension_rolled_back_signals_nothing(approved, staff, heard, django_capture_on_commit_callbacks):
    with (
        django_capture_on_commit_callbacks(execute=True),
        pytest.raises(RuntimeError),
        transaction.atomic(),
    ):
        services.firm_suspend(firm_id=approved.pk, staff=staff, reason="試し")
        raise RuntimeError("the caller's transaction fails")
    approved.refresh_from_db()
    assert approved.state == FirmState.APPROVED and heard == []


def test_unsuspend(staff_client, staff, approved, heard, django_capture_on_commit_callbacks):
    assert "停止中の事業者だけを再開できます" in _action(staff_client, "unsuspend", approved).content.decode()
    services.firm_suspend(firm_id=approved.pk, staff=staff, reason="調査中")
    with django_capture_on_commit_callbacks(execute=True):
        _action(staff_client, "unsuspend", approved)
    approved.refresh_from_db()
    assert approved.state == FirmState.APPROVED and approved.suspended_at is None
    assert heard == [("unsuspended", approved.pk)]


def test_only_an_approved_firm_is_suspended(applied, staff):
    firm, _ = applied
    with pytest.raises(PortalError):
        services.firm_suspend(firm_id=firm.pk, staff=staff, reason="理由")


# --- change of controller ----------------------------------------------------------------------------


def _change_url(firm) -> str:
    return reverse("admin:firms_firm_controller_change", args=[firm.pk])


def _change_form(**overrides) -> dict:
    return {
        "new_legal_name": "あおぞら信用金庫",
        "new_legal_name_en": "Aozora Shinkin Bank",
        "new_corporate_number": "7000012050002",
        "reason": "合併により事業を承継",
        "effective_on": timezone.localdate().isoformat(),
        **overrides,
    }


def test_the_action_leads_to_the_form_for_one_firm_only(staff_client, approved):
    response = staff_client.post(
        CHANGELIST, {"action": "record_controller_change", "_selected_action": [approved.pk]}
    )
    assert response.status_code == 302 and response["Location"] == _change_url(approved)
    other, _ = apply(corporate_number="2120901007402")
    both = staff_client.post(
        CHANGELIST,
        {"action": "record_controller_change", "_selected_action": [approved.pk, other.pk]},
        follow=True,
    )
    assert "1件だけ選んでください" in both.content.decode()


def test_recording_a_change_of_controller(
    staff_client, staff, approved, heard, eager, django_capture_on_commit_callbacks
):
    consents = [active_consent(approved, ResidentFactory()) for _ in range(2)]
    consents[1].state = "revoked"
    consents[1].save(update_fields=["state"])
    assert staff_client.get(_change_url(approved)).status_code == 200

    with django_capture_on_commit_callbacks(execute=True):
        response = staff_client.post(_change_url(approved), _change_form())
        assert heard == []
    assert response.status_code == 302
    change = ControllerChange.objects.get()
    assert (change.previous_legal_name, change.previous_corporate_number) == (
        "つばめ信用金庫",
        "4011001098993",
    )
    assert (change.new_legal_name, change.new_corporate_number) == ("あおぞら信用金庫", "7000012050002")
    assert (
        change.recorded_by == staff
        and change.consents_affected == 1
        and change.reason == "合併により事業を承継"
    )
    approved.refresh_from_db()
    assert (approved.legal_name, approved.legal_name_en, approved.corporate_number) == (
        "あおぞら信用金庫",
        "Aozora Shinkin Bank",
        "7000012050002",
    )
    assert heard == [("controller_changed", approved.pk, change.pk, "7000012050002")]
    (message,) = mail.outbox
    assert (
        "事業者の変更" in message.subject
        and "4011001098993" in message.body
        and "7000012050002" in message.body
    )
    assert "有効な同意 1 件" in staff_client.get(response["Location"]).content.decode()


@pytest.mark.parametrize(
    ("overrides", "words"),
    [
        ({"new_corporate_number": "7000012050003"}, "検査用数字"),
        ({"new_corporate_number": "4011001098993"}, "現在と同じ"),
        ({"effective_on": (timezone.localdate() + dt.timedelta(days=1)).isoformat()}, "未来"),
        ({"effective_on": "2025-02-30"}, "errorlist"),
        ({"reason": ""}, "errorlist"),
        ({"new_legal_name": ""}, "errorlist"),
    ],
)
def test_a_wrong_change_of_controller_is_refused(staff_client, approved, heard, overrides, words):
    response = staff_client.post(_change_url(approved), _change_form(**overrides))
    assert response.status_code == 200 and words in response.content.decode()
    assert not ControllerChange.objects.exists() and heard == []
    approved.refresh_from_db()
    assert approved.legal_name == "つばめ信用金庫"


def test_a_change_of_controller_needs_an_approved_firm(staff_client, applied, staff):
    firm, _ = applied
    response = staff_client.post(_change_url(firm), _change_form(), follow=True)
    assert "承認済み（または停止中）の事業者だけ" in response.content.decode()
    with pytest.raises(PortalError):
        services.controller_change_record(
            firm_id=firm.pk,
            staff=staff,
            new_legal_name="x",
            new_corporate_number="7000012050002",
            reason="r",
            effective_on=timezone.localdate(),
        )
    assert not ControllerChange.objects.exists()


def test_the_service_reports_every_problem_of_a_change(approved, staff):
    with pytest.raises(FirmInputInvalid) as raised:
        services.controller_change_record(
            firm_id=approved.pk,
            staff=staff,
            new_legal_name="",
            new_corporate_number="123",
            reason="",
            effective_on=None,
        )
    assert {p.field for p in raised.value.problems} == {
        "new_legal_name",
        "new_corporate_number",
        "reason",
        "effective_on",
    }


def test_the_controller_change_page_is_for_staff_only(client, approved, staff):
    response = client.get(_change_url(approved))
    assert response.status_code == 302 and "/login/" in response["Location"]
    client.force_login(staff)
    assert client.get(reverse("admin:firms_firm_controller_change", args=[999999])).status_code == 404
