"""The circuit breaker per agency: opens after failures in a row, fails fast, lets one probe through."""

import time

import pytest

from portal.agencies.breaker import (
    AgencyCircuitOpen,
    breaker_allow,
    breaker_failure,
    breaker_state,
    breaker_success,
)
from portal.agencies.client import AgencyUnavailable
from portal.myinfo.models import CategoryEntry, EntryState, FetchError
from portal.myinfo.services import category_fetch
from tests.myinfo.conftest import HOUSEHOLD_DATA, answer_for, json_reply

AGENCY = "municipal-resident"


@pytest.fixture
def breaker_settings(settings):
    settings.AGENCY_BREAKER_FAILURES = 3
    settings.AGENCY_BREAKER_COOLDOWN_SECONDS = 30
    return settings


def _fail(times: int, now: float) -> None:
    for _ in range(times):
        breaker_allow(agency_id=AGENCY, now=now)
        breaker_failure(agency_id=AGENCY, now=now)


def test_opens_after_failures_in_a_row(breaker_settings):
    now = time.time()
    _fail(2, now)
    assert breaker_state(agency_id=AGENCY, now=now) == "closed"
    _fail(1, now)
    assert breaker_state(agency_id=AGENCY, now=now) == "open"
    with pytest.raises(AgencyCircuitOpen):
        breaker_allow(agency_id=AGENCY, now=now + 29)
    assert issubclass(AgencyCircuitOpen, AgencyUnavailable)  # retryable, like the outage behind it


def test_a_success_resets_the_count(breaker_settings):
    now = time.time()
    _fail(2, now)
    breaker_success(agency_id=AGENCY)
    _fail(2, now)
    assert breaker_state(agency_id=AGENCY, now=now) == "closed"


def test_half_open_lets_one_probe_through_and_its_success_closes(breaker_settings):
    now = time.time()
    _fail(3, now)
    later = now + 31
    assert breaker_state(agency_id=AGENCY, now=later) == "half_open"
    breaker_allow(agency_id=AGENCY, now=later)  # the probe
    with pytest.raises(AgencyCircuitOpen):
        breaker_allow(agency_id=AGENCY, now=later)  # everyone else still fails fast
    breaker_success(agency_id=AGENCY)
    assert breaker_state(agency_id=AGENCY, now=later) == "closed"
    breaker_allow(agency_id=AGENCY, now=later)


def test_a_failed_probe_opens_it_for_another_cool_down(breaker_settings):
    now = time.time()
    _fail(3, now)
    probe_time = now + 31
    breaker_allow(agency_id=AGENCY, now=probe_time)
    breaker_failure(agency_id=AGENCY, now=probe_time)
    assert breaker_state(agency_id=AGENCY, now=probe_time + 29) == "open"
    assert breaker_state(agency_id=AGENCY, now=probe_time + 31) == "half_open"
    breaker_allow(agency_id=AGENCY, now=probe_time + 31)  # a new probe, the old claim was released


def test_agencies_have_breakers_of_their_own(breaker_settings):
    now = time.time()
    _fail(3, now)
    breaker_allow(agency_id="municipal-child", now=now)


@pytest.mark.django_db
def test_an_open_breaker_fails_fast_without_calling_the_agency(agencies, resident, breaker_settings):
    agencies.answer("household", {"error": "agency_unavailable"}, status=503)
    for _ in range(3):
        with pytest.raises(AgencyUnavailable):
            category_fetch(resident_id=resident.pk, category="household")
    assert len(agencies.requests) == 3

    with pytest.raises(AgencyCircuitOpen):
        category_fetch(resident_id=resident.pk, category="household")

    assert len(agencies.requests) == 3
    entry = CategoryEntry.objects.get(resident=resident, category="household")
    assert (entry.state, entry.last_error_code) == (EntryState.FAILED, FetchError.UNAVAILABLE)


@pytest.mark.django_db
def test_the_probe_after_the_cool_down_closes_it_when_the_agency_is_back(
    agencies, resident, breaker_settings
):
    breaker_settings.AGENCY_BREAKER_COOLDOWN_SECONDS = 1
    agencies.answer("household", {"error": "agency_unavailable"}, status=503)
    for _ in range(3):
        with pytest.raises(AgencyUnavailable):
            category_fetch(resident_id=resident.pk, category="household")
    agencies.replies["household"] = json_reply(answer_for(resident, "household", HOUSEHOLD_DATA))
    time.sleep(1.1)

    assert category_fetch(resident_id=resident.pk, category="household") == EntryState.DONE
    assert breaker_state(agency_id=AGENCY) == "closed"


@pytest.mark.django_db
def test_a_refusal_is_not_an_outage(agencies, resident, breaker_settings):
    agencies.answer("household", {"error": "unknown_code"}, status=404)
    for _ in range(5):
        category_fetch(resident_id=resident.pk, category="household")
    assert breaker_state(agency_id=AGENCY) == "closed"
    assert len(agencies.requests) == 5


def test_while_the_cache_is_down_the_breaker_stands_aside(breaker_settings, stop_shared_cache):
    now = time.time()
    _fail(3, now)  # open, as the cache last knew it
    stop_shared_cache()
    breaker_allow(agency_id=AGENCY, now=now)  # nothing to consult: the call goes through
    breaker_failure(agency_id=AGENCY, now=now)  # nor to count in
    breaker_success(agency_id=AGENCY)


@pytest.mark.django_db
def test_a_fetch_ends_while_the_cache_is_down(agencies, resident, breaker_settings, stop_shared_cache):
    # A fetch in flight when Redis stops must still land its answer in the database.
    agencies.answer("household", answer_for(resident, "household", HOUSEHOLD_DATA))
    stop_shared_cache()
    assert category_fetch(resident_id=resident.pk, category="household") == EntryState.DONE
    agencies.answer("household", {"error": "agency_unavailable"}, status=503)
    with pytest.raises(AgencyUnavailable):  # an outage is still retryable, only not counted
        category_fetch(resident_id=resident.pk, category="household")
