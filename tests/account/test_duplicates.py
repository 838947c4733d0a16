"""The same account registered by two residents: both flagged for staff, agencies get neither."""

import pytest
from django.contrib.auth import get_user_model

from portal.account import services
from portal.account.models import AccountEvent, EventKind, PublicFundAccount, ReviewState
from tests.account.conftest import register_verified
from tests.factories import ResidentFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def namesakes(db):
    # Two residents whose kana names are the same: the bank's name check cannot tell them apart.
    return ResidentFactory(name_kana="サトウ ミサキ"), ResidentFactory(name_kana="サトウ ミサキ")


def test_same_account_flags_both(namesakes):
    first, second = namesakes
    register_verified(first)
    assert PublicFundAccount.objects.get(resident=first).usable
    register_verified(second)
    states = set(PublicFundAccount.objects.values_list("review_state", flat=True))
    assert states == {ReviewState.FLAGGED}
    assert AccountEvent.objects.filter(kind=EventKind.FLAGGED).count() == 2
    assert not any(a.usable for a in PublicFundAccount.objects.all())


def test_a_different_account_flags_nothing(namesakes):
    first, second = namesakes
    register_verified(first)
    register_verified(second, number="7654321")
    assert set(PublicFundAccount.objects.values_list("review_state", flat=True)) == {ReviewState.NONE}


def test_staff_clear_one_and_remove_the_other(namesakes):
    first, second = namesakes
    register_verified(first)
    register_verified(second)
    staff = get_user_model().objects.create(username="reviewer", is_staff=True)
    services.account_review_clear(account_id=PublicFundAccount.objects.get(resident=first).pk, staff=staff)
    services.account_review_remove(account_id=PublicFundAccount.objects.get(resident=second).pk, staff=staff)
    kept = PublicFundAccount.objects.get()
    assert kept.resident == first and kept.review_state == ReviewState.CLEARED and kept.usable
    removed = AccountEvent.objects.get(kind=EventKind.REMOVED)
    assert removed.resident == second and removed.actor_ref == f"staff:{staff.pk}"


def test_staff_opening_an_account_is_recorded_in_the_residents_history(namesakes, client):
    from portal.history.models import ReleaseRecord

    first, _ = namesakes
    account = register_verified(first)
    staff = get_user_model().objects.create(username="desk", is_staff=True, is_superuser=True)
    client.force_login(staff)
    listing = client.get("/staff/admin/account/publicfundaccount/")
    assert listing.status_code == 200 and "1234567" not in listing.content.decode()
    assert not ReleaseRecord.objects.filter(actor_type="staff").exists()  # the list shows no personal data
    page = client.get(f"/staff/admin/account/publicfundaccount/{account.pk}/change/")
    assert page.status_code == 200 and "1234567" not in page.content.decode()
    record = ReleaseRecord.objects.get(owner=first, actor_type="staff")
    assert record.category == "public_fund_account" and record.purpose == "account_review"


def test_staff_actions_decide_flagged_accounts(namesakes, client):
    first, second = namesakes
    register_verified(first)
    register_verified(second)
    staff = get_user_model().objects.create(username="desk", is_staff=True, is_superuser=True)
    client.force_login(staff)
    keep = PublicFundAccount.objects.get(resident=first)
    response = client.post(
        "/staff/admin/account/publicfundaccount/",
        {"action": "clear_review", "_selected_action": [keep.pk]},
    )
    assert response.status_code == 302
    keep.refresh_from_db()
    assert keep.review_state == ReviewState.CLEARED
    assert PublicFundAccount.objects.get(resident=second).review_state == ReviewState.FLAGGED
