"""Registering, changing and deleting the public-fund account: the rules in portal.account.services."""

import pytest
from django.db import connection

from notices.models import Notice
from portal.account import services
from portal.account.models import (
    AccountApplication,
    AccountEvent,
    ApplicationKind,
    ApplicationState,
    BankResult,
    EventKind,
    PublicFundAccount,
)
from portal.core.errors import PortalError
from tests.account.conftest import details_for, proof_for, register_verified

pytestmark = pytest.mark.django_db


def test_account_refuses_family_name(kazuo):
    with pytest.raises(PortalError) as refused:
        details_for(kazuo, holder_kana="タナカ ユキ")
    assert refused.value.code == "holder_not_resident" and refused.value.status == 422
    assert "ご本人名義" in refused.value.message_ja and "your own name" in refused.value.message_en
    assert not AccountApplication.objects.exists() and not PublicFundAccount.objects.exists()


@pytest.mark.parametrize("holder", ["ｻﾄｳ ﾐｻｷ", "さとう みさき", "サトウミサキ", "サトウ　ミサキ"])
def test_own_name_in_any_kana_form_is_accepted(misaki, holder):
    assert details_for(misaki, holder_kana=holder).holder_kana.replace(" ", "") == "サトウミサキ"


@pytest.mark.parametrize(
    ("changes", "code"),
    [
        ({"bank_code": "9999"}, None),
        ({"bank_code": "00a1"}, None),
        ({"bank_code": "12345"}, None),
        ({"branch_code": "99"}, None),
        ({"branch_code": "x01"}, None),
        ({"number": "12345678"}, None),
        ({"number": "12-4567"}, None),
        ({"account_type": "fixed"}, "account_type_invalid"),
        ({"holder_kana": "佐藤 美咲"}, None),
        ({"holder_kana": "SATO MISAKI"}, None),
    ],
)
def test_bad_input_is_refused_clearly_and_nothing_saved(misaki, changes, code):
    with pytest.raises(PortalError) as refused:
        details_for(misaki, **changes)
    assert refused.value.status == 422 and refused.value.message_ja and refused.value.message_en
    if code:
        assert refused.value.code == code
    assert not AccountApplication.objects.exists() and not AccountEvent.objects.exists()


def test_japan_post_symbol_and_number_become_branch_and_number(kazuo):
    details = services.account_details_check(
        resident=kazuo,
        bank_code="9900",
        account_type="",
        holder_kana="タナカ カズオ",
        japan_post_symbol="12340",
        japan_post_number="12345671",
    )
    assert (details.branch_code, details.account_type, details.number) == ("238", "ordinary", "1234567")


def test_application_waits_for_the_bank_and_changes_nothing_until_then(misaki):
    application = services.account_apply(resident=misaki, details=details_for(misaki), proof=proof_for())
    assert application.state == ApplicationState.CHECKING and application.kind == ApplicationKind.REGISTER
    assert not PublicFundAccount.objects.exists()
    event = AccountEvent.objects.get(kind=EventKind.APPLIED)
    assert event.signing_request_id and event.signer_serial_hash == "s" * 64
    assert "1234567" not in str(event.details) and event.details["number_masked"] == "●●●●567"


def test_match_registers_the_account_encrypted_with_a_signed_event_and_a_notice(misaki):
    account = register_verified(misaki)
    assert account.number == "1234567" and account.usable
    with connection.cursor() as cursor:
        cursor.execute("SELECT number FROM account_publicfundaccount WHERE id = %s", [account.pk])
        stored = cursor.fetchone()[0]
    assert stored.startswith("v1$") and "1234567" not in stored  # encrypted at rest
    registered = AccountEvent.objects.get(kind=EventKind.REGISTERED)
    assert registered.signed_at is not None and registered.act_digest == "d" * 64
    notice = Notice.objects.get(recipient=misaki)
    assert notice.title_ja == "公金受取口座を登録しました" and "1234567" not in notice.body_ja


@pytest.mark.parametrize(
    "result",
    [BankResult.NAME_MISMATCH, BankResult.NO_ACCOUNT, BankResult.ACCOUNT_CLOSED, BankResult.UNAVAILABLE],
)
def test_refused_or_failed_check_keeps_nothing_and_the_old_account_stays(misaki, result):
    old = register_verified(misaki)
    application = services.account_apply(
        resident=misaki, details=details_for(misaki, number="7654321"), proof=proof_for()
    )
    assert application.kind == ApplicationKind.CHANGE
    state = services.account_bank_answer(application_id=application.pk, result=result)
    application.refresh_from_db()
    assert state == application.state
    assert application.state == (
        ApplicationState.FAILED if result == BankResult.UNAVAILABLE else ApplicationState.REFUSED
    )
    assert application.number == "" and application.number_masked == "●●●●321"
    assert PublicFundAccount.objects.get(pk=old.pk).number == "1234567"
    assert Notice.objects.filter(recipient=misaki).count() == 2


def test_a_second_answer_to_the_same_application_does_nothing(misaki):
    application = services.account_apply(resident=misaki, details=details_for(misaki), proof=proof_for())
    services.account_bank_answer(application_id=application.pk, result=BankResult.MATCH)
    assert services.account_bank_answer(application_id=application.pk, result=BankResult.NO_ACCOUNT) == "done"
    assert PublicFundAccount.objects.get(resident=misaki).number == "1234567"
    assert AccountEvent.objects.filter(kind=EventKind.REGISTERED).count() == 1


def test_a_newer_application_supersedes_one_still_at_the_bank(misaki):
    first = services.account_apply(resident=misaki, details=details_for(misaki), proof=proof_for())
    second = services.account_apply(
        resident=misaki, details=details_for(misaki, number="7654321"), proof=proof_for()
    )
    first.refresh_from_db()
    assert first.state == ApplicationState.SUPERSEDED and first.number == ""
    assert services.account_bank_answer(application_id=first.pk, result=BankResult.MATCH) == "done"
    services.account_bank_answer(application_id=second.pk, result=BankResult.MATCH)
    assert PublicFundAccount.objects.get(resident=misaki).number == "7654321"


def test_change_replaces_the_account_and_says_changed(misaki):
    register_verified(misaki)
    register_verified(misaki, number="7654321")
    assert PublicFundAccount.objects.get(resident=misaki).number == "7654321"
    assert AccountEvent.objects.filter(kind=EventKind.CHANGED).count() == 1


def test_delete_needs_the_delete_signature(misaki):
    register_verified(misaki)
    with pytest.raises(PortalError):
        services.account_delete(resident=misaki, proof=proof_for(services.REGISTER_ACT))
    services.account_delete(resident=misaki, proof=proof_for(services.DELETE_ACT))
    assert not PublicFundAccount.objects.exists()
    assert AccountEvent.objects.get(kind=EventKind.DELETED).signed_at is not None
    with pytest.raises(PortalError) as again:
        services.account_delete(resident=misaki, proof=proof_for(services.DELETE_ACT))
    assert again.value.code == "no_account"


def test_apply_refuses_a_proof_of_another_act(misaki):
    with pytest.raises(PortalError):
        services.account_apply(
            resident=misaki, details=details_for(misaki), proof=proof_for(services.DELETE_ACT)
        )
    assert not AccountApplication.objects.exists()


def test_delete_withdraws_an_application_still_at_the_bank(misaki):
    register_verified(misaki)
    pending = services.account_apply(
        resident=misaki, details=details_for(misaki, number="7654321"), proof=proof_for()
    )
    services.account_delete(resident=misaki, proof=proof_for(services.DELETE_ACT))
    assert services.account_bank_answer(application_id=pending.pk, result=BankResult.MATCH) == "done"
    assert not PublicFundAccount.objects.exists()
