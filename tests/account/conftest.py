"""Residents with kana names, signed proofs, and applications the bank has answered, for account tests."""

import uuid

import pytest
from django.utils import timezone

from portal.account import services
from portal.account.models import BankResult, PublicFundAccount
from portal.identity.services import StepUpProof
from tests.factories import ResidentFactory


def proof_for(act: str = services.REGISTER_ACT) -> StepUpProof:
    return StepUpProof(
        request_id=str(uuid.uuid4()),
        act=act,
        act_digest="d" * 64,
        signed_at=timezone.now(),
        signer_serial_hash="s" * 64,
    )


def details_for(resident, **changes) -> services.AccountDetails:
    values = {
        "bank_code": "0001",
        "branch_code": "001",
        "account_type": "ordinary",
        "number": "1234567",
        "holder_kana": resident.name_kana,
    }
    values.update(changes)
    return services.account_details_check(resident=resident, **values)


def register_verified(resident, **changes):
    """An account the bank confirmed, registered the way the task does it."""
    details = details_for(resident, **changes)
    application = services.account_apply(resident=resident, details=details, proof=proof_for())
    services.account_bank_answer(application_id=application.pk, result=BankResult.MATCH)
    return PublicFundAccount.objects.get(resident=resident)


@pytest.fixture
def misaki(db):
    return ResidentFactory(name="佐藤 美咲", name_kana="サトウ ミサキ")


@pytest.fixture
def kazuo(db):
    return ResidentFactory(name="田中 和夫", name_kana="タナカ カズオ")
