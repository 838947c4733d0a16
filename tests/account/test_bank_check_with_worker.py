"""A real Celery worker asks the simulated banks (a real process, over HTTP) about applied accounts.

Each test routes the bank check to a queue of its own, consumed by a worker pointed at this run's
simulator through its environment.
"""

import uuid

import pytest
from celery.app.routes import prepare

from portal.account import services
from portal.account.models import (
    AccountApplication,
    ApplicationState,
    BankResult,
    PublicFundAccount,
)
from portal.celery import app as celery_app
from tests.account.conftest import details_for, proof_for
from tests.conftest import PEOPLE
from tests.factories import ResidentFactory
from tests.integration.conftest import (  # noqa: F401 -- fixtures used by name
    agency_simulator,
    pointed_at,
    portal_to_agency,
    running_worker,
    wait_until,
    worker_environment,
)

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]
TIMEOUT = 60


@pytest.fixture
def bank_worker(worker_environment, portal_to_agency, monkeypatch, tmp_path):  # noqa: F811
    queue = f"account-test-{uuid.uuid4().hex[:8]}"
    router = celery_app.amqp.router
    monkeypatch.setattr(router, "routes", [*prepare({"account.*": {"queue": queue}}), *router.routes])
    environment = pointed_at(worker_environment, portal_to_agency)
    with running_worker(
        environment,
        queues=(queue,),
        name=queue,
        log_path=tmp_path / "worker.log",
        pool="threads",
        concurrency=4,
    ) as process:
        yield process
    portal_to_agency.clear_faults(services.BANK_CHECK_AGENCY)


def _person(card: str):
    person = PEOPLE[card]
    return ResidentFactory(my_number=person["my_number"], name=person["name"], name_kana=person["name_kana"])


def _decided(application: AccountApplication) -> AccountApplication:
    def decided():
        application.refresh_from_db()
        return application.state != ApplicationState.CHECKING

    wait_until(decided, timeout=TIMEOUT, what="the bank's answer")
    return application


def test_own_account_is_verified_by_the_bank(bank_worker, django_capture_on_commit_callbacks):
    misaki = _person("sato-misaki")
    details = details_for(
        misaki, bank_code="0009", branch_code="001", number="2345678", holder_kana="ｻﾄｳ ﾐｻｷ"
    )
    with django_capture_on_commit_callbacks(execute=True):
        application = services.account_apply(resident=misaki, details=details, proof=proof_for())
    assert _decided(application).state == ApplicationState.VERIFIED
    assert application.bank_result == BankResult.MATCH
    assert PublicFundAccount.objects.get(resident=misaki).number == "2345678"


@pytest.mark.parametrize(
    ("number", "result"),
    [("7777777", BankResult.NO_ACCOUNT), ("6789012", BankResult.ACCOUNT_CLOSED)],
)
def test_unknown_or_closed_account_is_refused_and_nothing_kept(
    bank_worker, django_capture_on_commit_callbacks, number, result
):
    john = _person("smith-john")
    details = details_for(john, bank_code="0010", branch_code="005", number=number)
    with django_capture_on_commit_callbacks(execute=True):
        application = services.account_apply(resident=john, details=details, proof=proof_for())
    assert _decided(application).state == ApplicationState.REFUSED
    assert application.bank_result == result and application.number == ""
    assert not PublicFundAccount.objects.exists()


def test_the_banks_name_check_catches_what_the_portal_cannot(bank_worker, django_capture_on_commit_callbacks):
    # Her own kana name, but her son's account number: the bank knows the account is in his name.
    misaki = _person("sato-misaki")
    details = details_for(misaki, bank_code="9900", branch_code="018", number="3456789")
    with django_capture_on_commit_callbacks(execute=True):
        application = services.account_apply(resident=misaki, details=details, proof=proof_for())
    assert _decided(application).state == ApplicationState.REFUSED
    assert application.bank_result == BankResult.NAME_MISMATCH
    assert not PublicFundAccount.objects.exists()


def test_a_bank_outage_is_retried_until_the_bank_returns(
    bank_worker,
    portal_to_agency,  # noqa: F811
    django_capture_on_commit_callbacks,
):
    portal_to_agency.set_faults(services.BANK_CHECK_AGENCY, outage=True)
    misaki = _person("sato-misaki")
    details = details_for(misaki, bank_code="0009", branch_code="001", number="2345678")
    with django_capture_on_commit_callbacks(execute=True):
        application = services.account_apply(resident=misaki, details=details, proof=proof_for())
    wait_until(
        lambda: AccountApplication.objects.get(pk=application.pk).attempts >= 2,
        timeout=TIMEOUT,
        what="a retried bank check",
    )
    assert AccountApplication.objects.get(pk=application.pk).state == ApplicationState.CHECKING
    portal_to_agency.clear_faults(services.BANK_CHECK_AGENCY)
    assert _decided(application).state == ApplicationState.VERIFIED
