"""A bank check whose task was lost is sent again by the lost-task sweep, once, and applied once."""

from datetime import timedelta

import pytest
from django.utils import timezone

from portal.account import services
from portal.account.models import AccountApplication, ApplicationState, BankResult, PublicFundAccount
from portal.account.tasks import check_with_bank
from portal.core.lost_tasks import lost_task_stall, lost_tasks_recover
from tests.account.conftest import details_for, proof_for

pytestmark = pytest.mark.django_db

KIND = "account.bank_check"


def sweep(now) -> dict[str, int]:
    return lost_tasks_recover(now=now, kinds=[KIND])[KIND]


@pytest.fixture
def sent(monkeypatch) -> list[int]:
    calls: list[int] = []
    monkeypatch.setattr(check_with_bank, "delay", lambda application_id: calls.append(application_id))
    return calls


def _apply(resident, django_capture_on_commit_callbacks) -> AccountApplication:
    with django_capture_on_commit_callbacks(execute=False):  # the task never reached the broker
        return services.account_apply(resident=resident, details=details_for(resident), proof=proof_for())


def test_a_lost_bank_check_is_sent_again_once(misaki, sent, django_capture_on_commit_callbacks):
    application = _apply(misaki, django_capture_on_commit_callbacks)
    later = timezone.now() + lost_task_stall() + timedelta(seconds=1)

    assert sweep(timezone.now()) == {}  # fresh: its task may still come
    assert sweep(later) == {"sent_again": 1}
    assert sent == [application.pk]
    assert sweep(later + timedelta(minutes=1)) == {}  # not again while the resend may still run
    assert sweep(later + lost_task_stall()) == {"sent_again": 1}  # lost again: sent again


def test_an_application_being_tried_or_answered_is_left_alone(
    misaki, kazuo, sent, django_capture_on_commit_callbacks
):
    tried = _apply(misaki, django_capture_on_commit_callbacks)
    answered = _apply(kazuo, django_capture_on_commit_callbacks)
    later = timezone.now() + lost_task_stall() + timedelta(seconds=1)
    AccountApplication.objects.filter(pk=tried.pk).update(last_attempt_at=later - timedelta(minutes=1))
    services.account_bank_answer(application_id=answered.pk, result=BankResult.MATCH)

    assert sweep(later) == {}
    assert sent == []


def test_a_check_sent_twice_asks_the_bank_with_one_key_and_registers_once(
    misaki, monkeypatch, django_capture_on_commit_callbacks
):
    application = _apply(misaki, django_capture_on_commit_callbacks)
    keys = []

    def bank(**call):
        keys.append(call["idempotency_key"])
        return {"result": BankResult.MATCH}

    monkeypatch.setattr(services, "agency_post", bank)
    assert services.account_check_with_bank(application_id=application.pk) == ApplicationState.VERIFIED
    assert services.account_check_with_bank(application_id=application.pk) == "done"  # the copy
    assert keys == [str(application.public_id)]
    assert PublicFundAccount.objects.filter(resident=misaki).count() == 1
