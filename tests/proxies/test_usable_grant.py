"""The grant check every acting request makes (access.usable_grant, one hand-written query): the grant it
returns is the one the ORM would load, and every grant that may not be acted under is refused."""

import datetime as dt
import uuid

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from portal.proxies import services
from portal.proxies.access import SESSION_ACTING, usable_grant
from portal.proxies.models import ProxyGrant
from tests.proxies.conftest import grant_between, logged_in

pytestmark = pytest.mark.django_db


def _values(instance, *, without=()) -> dict:
    return {
        f.attname: getattr(instance, f.attname)
        for f in instance._meta.concrete_fields
        if f.name not in without
    }


def test_the_grant_and_its_principal_are_as_the_orm_loads_them_in_one_query(kazuo, yuki):
    grant = grant_between(kazuo, yuki, ["medical", "notices_read"])
    with CaptureQueriesContext(connection) as queries:
        found = usable_grant(proxy=yuki, grant_public_id=str(grant.public_id))
        principal = found.principal
    assert len(queries) == 1
    loaded = ProxyGrant.objects.select_related("principal").get(pk=grant.pk)
    assert _values(found) == _values(loaded)
    assert found.scopes == ["medical", "notices_read"] and isinstance(found.ends_on, dt.date)
    assert _values(principal, without={"my_number"}) == _values(loaded.principal, without={"my_number"})
    # The encrypted My Number is not read (nor decrypted) unless a page asks for it.
    assert principal.get_deferred_fields() == {"my_number"}
    assert principal.my_number == kazuo.my_number
    assert not found._state.adding and found._state.db == "default"


def test_a_grant_ending_today_can_still_be_acted_under(kazuo, yuki):
    grant = grant_between(kazuo, yuki, ["medical"])
    ProxyGrant.objects.filter(pk=grant.pk).update(ends_on=timezone.localdate())
    assert usable_grant(proxy=yuki, grant_public_id=str(grant.public_id)).pk == grant.pk


@pytest.mark.parametrize(
    "spoil",
    [
        pytest.param(
            lambda grant: services.grant_end(resident=grant.principal, grant_public_id=grant.public_id),
            id="ended",
        ),
        pytest.param(
            lambda grant: ProxyGrant.objects.filter(pk=grant.pk).update(
                ends_on=timezone.localdate() - dt.timedelta(days=1)
            ),
            id="past-its-end-date",
        ),
        pytest.param(
            lambda grant: ProxyGrant.objects.filter(pk=grant.pk).update(review_required=True),
            id="held-for-review",
        ),
        pytest.param(
            lambda grant: ProxyGrant.objects.filter(pk=grant.pk).update(state="accepted"),
            id="not-yet-confirmed",
        ),
    ],
)
def test_a_grant_that_may_not_be_acted_under_is_refused(kazuo, yuki, spoil):
    grant = grant_between(kazuo, yuki, ["medical"])
    spoil(grant)
    assert usable_grant(proxy=yuki, grant_public_id=str(grant.public_id)) is None


@pytest.mark.parametrize("grant_id", [str(uuid.uuid4()), "not-a-uuid", ""])
def test_an_unknown_or_malformed_id_is_no_grant(kazuo, yuki, grant_id):
    grant_between(kazuo, yuki, ["medical"])
    assert usable_grant(proxy=yuki, grant_public_id=grant_id) is None


def test_only_the_proxy_holding_it_can_use_it(kazuo, yuki, stranger):
    grant = grant_between(kazuo, yuki, ["medical"])
    assert usable_grant(proxy=stranger, grant_public_id=str(grant.public_id)) is None
    assert usable_grant(proxy=kazuo, grant_public_id=str(grant.public_id)) is None


def test_a_malformed_acting_key_in_the_session_is_dropped_and_the_proxy_sees_their_own_pages(kazuo, yuki):
    grant_between(kazuo, yuki, ["medical"])
    client = logged_in(yuki)
    session = client.session
    session[SESSION_ACTING] = "not-a-uuid"
    session.save()
    page = client.get("/myinfo/")
    assert page.status_code == 200 and 'id="acting-banner"' not in page.content.decode()
    assert SESSION_ACTING not in client.session
