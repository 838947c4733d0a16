"""A proxy's refresh of the principal's medical data tells the medical insurer which registered proxy
asked (the registration's id, nothing else about her); the insurer's refusal is shown as such, to her
instead of data. The resident's own refreshes and the portal's carry no proxy, as before."""

import json

import pytest

from portal.agencies.client import AgencyUnavailable
from portal.history.models import ReleaseRecord
from portal.myinfo.models import CategoryEntry, EntryState, FetchError
from portal.myinfo.selectors import CardState, myinfo_overview
from portal.myinfo.services import category_fetch, myinfo_refresh_start
from portal.proxies import insurer
from portal.proxies.models import InsurerRegistration
from portal.proxies.scopes import MEDICAL_SCOPE
from portal.proxies.tasks import register_with_insurer
from tests.myinfo.conftest import answer_for
from tests.proxies.conftest import grant_between, logged_in
from tests.proxies.test_acting import hold

pytestmark = pytest.mark.django_db
HEADER = "Proxy-Registration"
DRUGS = {"records": [{"drug": "アムロジピン錠5mg"}]}
REFUSED = {"error": "proxy_not_registered", "message": "This agency holds no registration of this proxy."}


@pytest.fixture
def acting_yuki(kazuo, yuki):
    grant = grant_between(kazuo, yuki, [MEDICAL_SCOPE, "myinfo:pension"])
    client = logged_in(yuki)
    assert client.post(f"/proxies/{grant.public_id}/act/").status_code == 302
    return client, grant, InsurerRegistration.objects.get(grant=grant)


def _refresh(client, category, capture) -> None:
    with capture(execute=False):  # the fetch tasks are run by the test itself
        assert client.post("/myinfo/refresh/", {"category": category}).status_code == 302


def _fetch(resident, category="medical_drugs") -> str:
    entry = CategoryEntry.objects.get(resident=resident, category=category)
    return category_fetch(resident_id=resident.pk, category=category, requested_at=entry.requested_at)


def test_a_proxys_refresh_of_medical_data_names_her_registration(
    agencies, kazuo, yuki, acting_yuki, django_capture_on_commit_callbacks
):
    client, grant, registration = acting_yuki
    agencies.answer("medical_drugs", answer_for(kazuo, "medical_drugs", DRUGS))
    _refresh(client, "medical_drugs", django_capture_on_commit_callbacks)
    entry = CategoryEntry.objects.get(resident=kazuo, category="medical_drugs")
    assert entry.state == EntryState.FETCHING and entry.proxy_registration == str(registration.public_id)

    assert _fetch(kazuo) == EntryState.DONE
    (request,) = agencies.fetches("medical_drugs")
    assert request.headers[HEADER] == str(registration.public_id)
    for secret in (yuki.my_number, kazuo.my_number, str(yuki.public_id), str(grant.public_id)):
        assert secret not in str(request.url) + json.dumps(dict(request.headers))
    # His data, fetched for her: shown to her, recorded in his history with her as actor.
    page = client.get("/myinfo/medical_drugs/").content.decode()
    assert "アムロジピン" in page and 'id="proxy-refused"' not in page
    assert ReleaseRecord.objects.get(owner=kazuo, category="medical_drugs").actor_label == yuki.name


def test_a_proxys_refresh_of_other_categories_names_no_proxy(
    agencies, kazuo, acting_yuki, django_capture_on_commit_callbacks
):
    client, _, _ = acting_yuki
    agencies.answer("pension", answer_for(kazuo, "pension", {"records": []}))
    _refresh(client, "pension", django_capture_on_commit_callbacks)
    assert CategoryEntry.objects.get(resident=kazuo, category="pension").proxy_registration == ""
    assert _fetch(kazuo, "pension") == EntryState.DONE
    (request,) = agencies.fetches("pension")
    assert HEADER not in request.headers


def test_the_residents_own_refresh_and_the_portals_name_no_proxy(
    agencies, kazuo, acting_yuki, django_capture_on_commit_callbacks
):
    client, _, _ = acting_yuki
    agencies.answer("medical_drugs", answer_for(kazuo, "medical_drugs", DRUGS))
    _refresh(client, "medical_drugs", django_capture_on_commit_callbacks)
    _fetch(kazuo)
    # He refreshes on his own page: his request, no proxy.
    _refresh(logged_in(kazuo), "medical_drugs", django_capture_on_commit_callbacks)
    assert CategoryEntry.objects.get(resident=kazuo, category="medical_drugs").proxy_registration == ""
    _fetch(kazuo)
    # The portal's own refresh (on login).
    with django_capture_on_commit_callbacks(execute=False):
        myinfo_refresh_start(resident=kazuo, categories=["medical_drugs"])
    _fetch(kazuo)
    first, *his = agencies.fetches("medical_drugs")
    assert HEADER in first.headers and len(his) == 2
    assert all(HEADER not in request.headers for request in his)


def test_every_attempt_of_a_proxys_refresh_names_her_registration(
    agencies, kazuo, acting_yuki, django_capture_on_commit_callbacks
):
    """A retry, a redelivery or the stall sweep's resend is the same request: hers, not the portal's."""
    client, _, registration = acting_yuki
    agencies.answer("medical_drugs", {"error": "outage"}, status=503)
    _refresh(client, "medical_drugs", django_capture_on_commit_callbacks)
    with pytest.raises(AgencyUnavailable):
        _fetch(kazuo)
    agencies.answer("medical_drugs", answer_for(kazuo, "medical_drugs", DRUGS))
    assert _fetch(kazuo) == EntryState.DONE
    sent = [request.headers.get(HEADER) for request in agencies.fetches("medical_drugs")]
    assert sent == [str(registration.public_id)] * 2


# --- the insurer refuses the proxy ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "error", ["proxy_not_registered", "proxy_registration_withdrawn", "proxy_registration_expired"]
)
def test_the_insurers_refusal_of_the_proxy_is_shown_to_her_instead_of_data(
    agencies, kazuo, yuki, acting_yuki, django_capture_on_commit_callbacks, error
):
    client, _, _ = acting_yuki
    his = logged_in(kazuo)  # his login refreshes his information...
    hold(kazuo, "medical_drugs", DRUGS)  # ...and this is what he fetched
    agencies.answer("medical_drugs", {**REFUSED, "error": error}, status=403)
    _refresh(client, "medical_drugs", django_capture_on_commit_callbacks)
    assert _fetch(kazuo) == EntryState.FAILED
    entry = CategoryEntry.objects.get(resident=kazuo, category="medical_drugs")
    assert entry.last_error_code == FetchError.PROXY_REFUSED

    page = client.get("/myinfo/medical_drugs/").content.decode()
    assert (
        'id="proxy-refused"' in page
        and "医療保険者が、代理人としてのあなたの要求を受け付けませんでした" in page
    )
    assert "アムロジピン" not in page and 'id="data"' not in page
    assert not ReleaseRecord.objects.filter(owner=kazuo, category="medical_drugs").exists()
    client.cookies["django_language"] = "en"
    english = client.get("/myinfo/medical_drugs/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "The medical insurer did not accept your request as a proxy" in english
    overview = client.get("/myinfo/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert 'id="proxy-refused-medical_drugs"' in overview and "アムロジピン" not in overview
    states = client.get("/myinfo/status.json").json()["categories"]
    assert {"category": "medical_drugs", "state": "failed", "as_of": None, "error": "proxy_refused"} in states

    # He still sees what he fetched himself, and why it was not updated.
    own = his.get("/myinfo/medical_drugs/").content.decode()
    assert "アムロジピン" in own and 'id="proxy-refused-note"' in own
    status = next(
        s for s in myinfo_overview(resident=kazuo, now=entry.updated_at) if s.category == "medical_drugs"
    )
    assert (
        status.state == CardState.STALE and status.has_data and status.error_code == FetchError.PROXY_REFUSED
    )


def test_another_refusal_is_not_taken_for_the_insurers_word_on_the_proxy(
    agencies, kazuo, acting_yuki, django_capture_on_commit_callbacks
):
    client, _, _ = acting_yuki
    agencies.answer("medical_drugs", {"error": "forbidden"}, status=403)
    _refresh(client, "medical_drugs", django_capture_on_commit_callbacks)
    _fetch(kazuo)
    assert (
        CategoryEntry.objects.get(resident=kazuo, category="medical_drugs").last_error_code
        == FetchError.REFUSED
    )


def test_a_proxy_without_a_registration_gets_one_when_she_asks(
    agencies, kazuo, acting_yuki, django_capture_on_commit_callbacks, monkeypatch
):
    """A grant from before registrations existed: her first request opens its registration (the insurer
    refuses until it has it, and the page says so)."""
    client, grant, registration = acting_yuki
    registration.delete()
    queued = []
    monkeypatch.setattr(register_with_insurer, "delay", lambda pk: queued.append(pk))
    monkeypatch.setattr("portal.myinfo.services._fetches_send", lambda **kwargs: None)
    with django_capture_on_commit_callbacks(execute=True):
        assert client.post("/myinfo/refresh/", {"category": "medical_drugs"}).status_code == 302
    opened = InsurerRegistration.objects.get(grant=grant)
    assert queued == [opened.pk]
    entry = CategoryEntry.objects.get(resident=kazuo, category="medical_drugs")
    assert entry.proxy_registration == str(opened.public_id)
    assert insurer.insurer_registration_for_fetch(grant=grant) == str(opened.public_id)
