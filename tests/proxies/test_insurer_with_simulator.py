"""Registered proxies against the medical insurer of the real agency simulator process, over HTTP: the
portal registers a proxy, the proxy's fetch is answered under the registration, the withdrawal makes the
insurer refuse her, and the page shows that refusal instead of data. The resident's own fetch is unchanged."""

import datetime as dt

import httpx
import pytest

from portal.agencies.codes import agency_code
from portal.myinfo.models import CategoryEntry, EntryState, FetchError
from portal.myinfo.services import category_fetch, myinfo_refresh_start
from portal.proxies import insurer, services
from portal.proxies.models import InsurerRegistration, InsurerRegistrationState
from portal.proxies.scopes import MEDICAL_SCOPE
from tests.conftest import PEOPLE
from tests.factories import ResidentFactory
from tests.integration.conftest import agency_simulator, portal_to_agency  # noqa: F401 -- fixtures
from tests.proxies.conftest import grant_between, logged_in

pytestmark = [pytest.mark.integration, pytest.mark.django_db]
INSURER = "medical-insurance"
State = InsurerRegistrationState


def _person(person_id: str):
    person = PEOPLE[person_id]
    return ResidentFactory(
        my_number=person["my_number"],
        name=person["name"],
        name_kana=person["name_kana"],
        birth_date=dt.date.fromisoformat(person["birth_date"]),
    )


@pytest.fixture
def family(db):
    return _person("tanaka-kazuo"), _person("tanaka-yuki")


def _held(simulator, registration: InsurerRegistration) -> dict:
    response = httpx.get(
        f"{simulator.url}/_control/agencies/{INSURER}/proxy-registrations",
        headers={"X-Control-Token": simulator.control_token},
        timeout=5,
    )
    response.raise_for_status()
    return next(
        r for r in response.json()["registrations"] if r["registration_id"] == str(registration.public_id)
    )


def _fetch_drugs(resident, capture, *, proxy_registration: str = "") -> CategoryEntry:
    with capture(execute=False):
        myinfo_refresh_start(
            resident=resident, categories=["medical_drugs"], proxy_registration=proxy_registration
        )
    entry = CategoryEntry.objects.get(resident=resident, category="medical_drugs")
    category_fetch(resident_id=resident.pk, category="medical_drugs", requested_at=entry.requested_at)
    entry.refresh_from_db()
    return entry


def test_registered_answered_withdrawn_refused(
    portal_to_agency,  # noqa: F811
    family,
    django_capture_on_commit_callbacks,
):
    kazuo, yuki = family
    with django_capture_on_commit_callbacks(execute=False):
        grant = grant_between(kazuo, yuki, [MEDICAL_SCOPE])
    registration = InsurerRegistration.objects.get(grant=grant)

    assert insurer.insurer_registration_send(registration_id=registration.pk) == State.REGISTERED
    held = _held(portal_to_agency, registration)
    assert held["agency_code"] == agency_code(my_number=kazuo.my_number, agency_id=INSURER)
    assert held["proxy_code"] == agency_code(my_number=yuki.my_number, agency_id=INSURER)
    assert held["proxy_name"] == yuki.name and held["relationship"] == "voluntary"
    assert held["valid_until"] == grant.ends_on.isoformat() and held["withdrawn_at"] is None

    # Her fetch, under the registration: answered, and counted by the insurer as hers.
    proxy_registration = insurer.insurer_registration_for_fetch(grant=grant)
    entry = _fetch_drugs(kazuo, django_capture_on_commit_callbacks, proxy_registration=proxy_registration)
    assert entry.state == EntryState.DONE and entry.payload
    assert _held(portal_to_agency, registration)["reads"] == 1

    # He ends her authority: withdrawn at the insurer, which then refuses a request under it.
    with django_capture_on_commit_callbacks(execute=False):
        services.grant_end(resident=kazuo, grant_public_id=grant.public_id)
    assert insurer.insurer_withdrawal_send(registration_id=registration.pk) == State.WITHDRAWN
    held = _held(portal_to_agency, registration)
    assert held["withdrawn_at"] is not None and held["withdrawal_reason"] == "ended_by_principal"
    entry = _fetch_drugs(kazuo, django_capture_on_commit_callbacks, proxy_registration=proxy_registration)
    assert entry.state == EntryState.FAILED and entry.last_error_code == FetchError.PROXY_REFUSED
    assert _held(portal_to_agency, registration)["reads"] == 1

    # His own fetch is as it always was.
    entry = _fetch_drugs(kazuo, django_capture_on_commit_callbacks)
    assert entry.state == EntryState.DONE and entry.last_error_code == ""


def test_an_unregistered_proxy_is_refused_and_her_page_says_so_until_she_is_registered(
    portal_to_agency,  # noqa: F811
    family,
    django_capture_on_commit_callbacks,
):
    kazuo, yuki = family
    with django_capture_on_commit_callbacks(execute=False):
        grant = grant_between(kazuo, yuki, [MEDICAL_SCOPE])
    registration = InsurerRegistration.objects.get(grant=grant)  # made, not yet sent
    client = logged_in(yuki)
    assert client.post(f"/proxies/{grant.public_id}/act/").status_code == 302

    def refresh_through_the_page() -> None:
        with django_capture_on_commit_callbacks(execute=False):
            assert client.post("/myinfo/refresh/", {"category": "medical_drugs"}).status_code == 302
        entry = CategoryEntry.objects.get(resident=kazuo, category="medical_drugs")
        assert entry.proxy_registration == str(registration.public_id)
        category_fetch(resident_id=kazuo.pk, category="medical_drugs", requested_at=entry.requested_at)

    refresh_through_the_page()
    page = client.get("/myinfo/medical_drugs/").content.decode()
    assert 'id="proxy-refused"' in page and 'id="data"' not in page

    assert insurer.insurer_registration_send(registration_id=registration.pk) == State.REGISTERED
    refresh_through_the_page()
    page = client.get("/myinfo/medical_drugs/").content.decode()
    assert 'id="proxy-refused"' not in page and 'id="data"' in page
