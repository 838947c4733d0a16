"""A parent acts for a child under 15 without an invitation: the child's card (its text application, the
child's PIN) and the municipality's household record say so; it ends on the fifteenth birthday."""

import datetime as dt
import re

import pytest

from portal.identity.models import CardCertificate, Resident
from portal.proxies import services
from portal.proxies.models import EndedBy, GrantKind, GrantState, ProxyGrant
from portal.proxies.parents import fifteenth_birthday
from tests.conftest import PEOPLE
from tests.helpers import PIN, card_answer, login_with_card
from tests.proxies.test_acting import hold

pytestmark = pytest.mark.django_db
CHILD = PEOPLE["sato-haruto"]
MOTHER = PEOPLE["sato-misaki"]


def _household(*members):
    return {
        "members": [
            {"name": m["name"], "name_kana": m["name_kana"], "birth_date": m["birth_date"]} for m in members
        ]
    }


@pytest.fixture
def misaki(client, trusted_jpki) -> Resident:
    login_with_card(client, trusted_jpki, "sato-misaki")
    return Resident.objects.get(name=MOTHER["name"])


def _present_card(client, jpki, card_id: str, pin: str = PIN) -> str:
    response = client.post("/proxies/children/add/")
    request_id = re.fullmatch(r"/proxies/children/([0-9a-f-]+)/", response["Location"]).group(1)
    page = client.get(response["Location"]).content.decode()
    assert "お子様" in page and f"/proxies/children/{request_id}/complete/" in page
    assert card_answer(client, jpki, request_id, card_id, pin).status_code == 200
    return request_id


def test_parent_acts_for_the_child_in_her_household(client, trusted_jpki, misaki):
    hold(misaki, "household", _household(MOTHER, CHILD))
    request_id = _present_card(client, trusted_jpki, "sato-haruto")
    done = client.post(f"/proxies/children/{request_id}/complete/")
    assert done.status_code == 302 and done["Location"] == "/proxies/"

    child = Resident.objects.get(name=CHILD["name"])
    assert child.name_kana == CHILD["name_kana"] and child.birth_date.isoformat() == CHILD["birth_date"]
    assert child.my_number == CHILD["my_number"]
    assert CardCertificate.objects.filter(resident=child, kind="auth").exists()  # his own logins later
    grant = ProxyGrant.objects.get(principal=child, proxy=misaki)
    assert grant.kind == GrantKind.PARENT and grant.state == GrantState.ACTIVE
    assert grant.ends_on == fifteenth_birthday(child.birth_date) - dt.timedelta(days=1)

    assert client.post(f"/proxies/{grant.public_id}/act/").status_code == 302
    assert f"{CHILD['name']}さんの代理人として" in client.get("/myinfo/").content.decode()
    # The request was used once; its page now offers to start again from the proxies page.
    assert client.post(f"/proxies/children/{request_id}/complete/").status_code in {404, 409, 410}
    used = client.get(f"/proxies/children/{request_id}/").content.decode()
    assert 'id="signing-again"><a class="button button--primary" href="/proxies/#child-add"' in used


def test_a_child_not_in_her_household_is_refused_and_nothing_saved(client, trusted_jpki, misaki):
    hold(misaki, "household", _household(MOTHER))
    request_id = _present_card(client, trusted_jpki, "sato-haruto")
    response = client.post(f"/proxies/children/{request_id}/complete/")
    assert response.status_code == 403 and 'data-code="not_in_household"' in response.content.decode()
    assert not Resident.objects.filter(name=CHILD["name"]).exists() and not ProxyGrant.objects.exists()


def test_without_a_household_record_she_is_told_to_fetch_it(client, trusted_jpki, misaki):
    request_id = _present_card(client, trusted_jpki, "sato-haruto")
    response = client.post(f"/proxies/children/{request_id}/complete/")
    assert response.status_code == 409 and 'data-code="household_unknown"' in response.content.decode()
    assert not ProxyGrant.objects.exists()


def test_an_adults_card_is_not_a_childs(client, trusted_jpki, misaki):
    yuki = PEOPLE["tanaka-yuki"]
    hold(misaki, "household", _household(MOTHER, yuki))
    request_id = _present_card(client, trusted_jpki, "tanaka-yuki")
    response = client.post(f"/proxies/children/{request_id}/complete/")
    assert response.status_code == 403 and 'data-code="child_not_under_15"' in response.content.decode()
    assert not ProxyGrant.objects.exists()


def test_the_grant_ends_when_the_child_turns_15(client, trusted_jpki, misaki):
    hold(misaki, "household", _household(MOTHER, CHILD))
    request_id = _present_card(client, trusted_jpki, "sato-haruto")
    client.post(f"/proxies/children/{request_id}/complete/")
    grant = ProxyGrant.objects.get()
    birthday = fifteenth_birthday(dt.date.fromisoformat(CHILD["birth_date"]))
    assert services.grants_end_expired(today=birthday - dt.timedelta(days=1)) == 0
    assert services.grants_end_expired(today=birthday) == 1
    grant.refresh_from_db()
    assert grant.state == GrantState.ENDED and grant.ended_by == EndedBy.EXPIRY


def test_the_childs_information_is_fetched_when_the_folder_opens(client, trusted_jpki, misaki):
    from portal.myinfo.models import CategoryEntry

    hold(misaki, "household", _household(MOTHER, CHILD))
    request_id = _present_card(client, trusted_jpki, "sato-haruto")
    client.post(f"/proxies/children/{request_id}/complete/")
    child = Resident.objects.get(name=CHILD["name"])
    assert CategoryEntry.objects.filter(resident=child, state="fetching").exists()
