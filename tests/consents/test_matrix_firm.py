"""A firm's token in the authorisation matrix (issue 7): it opens no resident page, and on /api/v1/ it
reaches only its own consent's resident and items; a resident's or a proxy's session opens no /api/v1/."""

import pytest
from django.test import Client

from portal.firms.models import AccessKind
from portal.history.models import ActorType, ReleaseRecord
from tests.consents.conftest import firm_make, issued_token
from tests.consents.test_flow import INCOME, hold_income
from tests.factories import ResidentFactory
from tests.proxies.conftest import grant_between, logged_in
from tests.proxies.test_matrix import PAGES
from tests.proxies.test_matrix import world as matrix_world

pytestmark = pytest.mark.django_db
world = matrix_world


@pytest.mark.parametrize(("page", "scope", "shown"), PAGES, ids=[p[0] for p in PAGES])
def test_a_firm_token_opens_no_resident_page(world, bank, page, scope, shown):
    principal, notice = world
    token = issued_token(bank, principal, ["name", "income_tax", "medical_drugs"])
    response = bank.api(Client(), page.format(notice=notice.public_id), token)
    assert response.status_code == 302 and response["Location"].startswith("/login/")
    assert shown not in response.content.decode()


def test_a_firm_token_reaches_only_its_own_residents_granted_items(db):
    bank = firm_make(access_kind=AccessKind.PERIODIC, interval_days=None)
    principal, other = ResidentFactory(), ResidentFactory()
    hold_income(principal)
    hold_income(other, {"fiscal_year": 2025, "total_income": 9_999_999})
    token = issued_token(bank, principal, ["income_tax"])
    answer = bank.api(Client(), "/api/v1/information/income_tax", token)
    assert answer.status_code == 200 and answer.json()["data"] == INCOME
    # No parameter names another resident: the resident is the token's, whatever the request says.
    tricked = bank.api(Client(), f"/api/v1/information/income_tax?resident={other.public_id}", token)
    assert tricked.status_code == 200 and tricked.json()["data"] == INCOME
    assert bank.api(Client(), "/api/v1/information/medical_drugs", token).status_code == 403
    assert not ReleaseRecord.objects.filter(owner=other, actor_type=ActorType.FIRM).exists()


def test_sessions_of_the_resident_and_of_a_proxy_open_no_api_v1(bank):
    principal, proxy = ResidentFactory(), ResidentFactory()
    hold_income(principal)
    grant_between(principal, proxy, ["myinfo:income_tax"])
    for session in (logged_in(principal), logged_in(proxy)):
        response = session.get("/api/v1/information/income_tax")
        assert response.status_code == 401 and "total_income" not in response.content.decode()
