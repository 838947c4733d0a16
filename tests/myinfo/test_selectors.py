"""What the pages read: each category's card, a category's data while it lives, and the purge after."""

import json
from datetime import timedelta

import pytest
from django.utils import timezone

from portal.core.categories import MEDICAL, SELF_INFORMATION
from portal.myinfo.models import CategoryEntry, EntryState, FetchError
from portal.myinfo.selectors import CardState, myinfo_overview, myinfo_payload
from portal.myinfo.services import myinfo_purge_expired
from portal.myinfo.tasks import purge_expired
from tests.factories import ResidentFactory

pytestmark = pytest.mark.django_db

DATA = {"records": [{"program": "児童手当"}]}


def _entry(resident, category, *, state, now, payload=DATA, age=timedelta(hours=1), **fields):
    values = {"state": state, "requested_at": now - age, "last_attempt_at": now - age}
    if payload is not None:
        values |= {
            "payload": json.dumps(payload, ensure_ascii=False),
            "as_of": now - age,
            "fetched_at": now - age,
            "expires_at": now - age + timedelta(hours=24),
        }
    values |= fields
    return CategoryEntry.objects.create(resident=resident, category=category, agency_id="x", **values)


def _cards(resident, now):
    return {s.category: s for s in myinfo_overview(resident=resident, now=now)}


def test_overview_lists_every_category_with_its_agency_in_order(resident):
    overview = myinfo_overview(resident=resident, now=timezone.now())
    assert [s.category for s in overview] == [c.code for c in (*SELF_INFORMATION, *MEDICAL)]
    household = overview[1]
    assert (household.label_ja, household.label("en")) == ("世帯", "household")
    assert household.agency_name("ja") == "市区町村 住民記録係" and household.group == "self_information"
    assert overview[-1].group == "medical" and overview[-1].agency_id == "medical-insurance"
    assert {s.state for s in overview} == {CardState.STALE} and not any(s.has_data for s in overview)


def test_overview_states(resident, django_assert_num_queries):
    now = timezone.now()
    _entry(resident, "household", state=EntryState.DONE, now=now)
    _entry(resident, "child_allowance", state=EntryState.DONE, now=now, age=timedelta(hours=25))
    _entry(resident, "pension", state=EntryState.FETCHING, now=now, payload=None, age=timedelta(seconds=2))
    _entry(
        resident, "income_tax", state=EntryState.FETCHING, now=now, payload=None, age=timedelta(minutes=20)
    )
    _entry(resident, "vaccination", state=EntryState.FAILED, now=now, last_error_code=FetchError.UNAVAILABLE)
    _entry(
        resident,
        "disability",
        state=EntryState.FAILED,
        now=now,
        payload=None,
        last_error_code=FetchError.NOT_SERVED,
    )
    _entry(resident, "health_insurance", state=EntryState.QUARANTINED, now=now, payload=None)

    with django_assert_num_queries(1):
        cards = _cards(resident, now)

    def card(code):
        c = cards[code]
        return c.state, c.has_data, c.error_code

    assert card("household") == (CardState.DONE, True, "")
    assert cards["household"].as_of == now - timedelta(hours=1)
    assert card("child_allowance") == (CardState.STALE, False, "")  # expired: no longer shown
    assert cards["child_allowance"].as_of is None
    assert card("pension") == (CardState.FETCHING, False, "")
    assert card("income_tax") == (CardState.FAILED, False, FetchError.GAVE_UP)  # lost, not spinning forever
    assert card("vaccination") == (CardState.STALE, True, FetchError.UNAVAILABLE)  # older data, update failed
    assert card("disability") == (CardState.FAILED, False, FetchError.NOT_SERVED)
    assert card("health_insurance") == (CardState.QUARANTINED, False, FetchError.IDENTITY_MISMATCH)
    assert card("employment_insurance") == (CardState.STALE, False, "")  # never fetched


def test_a_refresh_under_way_keeps_showing_the_older_data(resident):
    now = timezone.now()
    _entry(resident, "household", state=EntryState.FETCHING, now=now, age=timedelta(seconds=5))
    assert _cards(resident, now)["household"].state == CardState.FETCHING
    assert myinfo_payload(resident=resident, category="household", now=now) == DATA


def test_a_lost_fetch_sent_again_by_the_sweep_shows_as_fetching(resident, settings):
    now = timezone.now()
    _entry(
        resident,
        "household",
        state=EntryState.FETCHING,
        now=now,
        payload=None,
        age=timedelta(minutes=20),
        resent_at=now - timedelta(minutes=1),
    )
    assert _cards(resident, now)["household"].state == CardState.FETCHING
    # The stall is a setting: lowered, the same fetch counts as lost again.
    settings.LOST_TASK_STALL_SECONDS = 30
    card = _cards(resident, now)["household"]
    assert (card.state, card.error_code) == (CardState.FAILED, FetchError.GAVE_UP)


def test_payload_only_while_it_lives_and_only_the_residents_own(resident):
    now = timezone.now()
    _entry(resident, "household", state=EntryState.DONE, now=now)
    other = ResidentFactory()
    assert myinfo_payload(resident=resident, category="household", now=now) == DATA
    assert myinfo_payload(resident=other, category="household", now=now) is None
    assert myinfo_payload(resident=resident, category="household", now=now + timedelta(hours=24)) is None
    assert myinfo_payload(resident=resident, category="pension", now=now) is None


def test_purge_deletes_expired_data_and_keeps_what_is_current(resident):
    now = timezone.now()
    fresh = _entry(resident, "household", state=EntryState.DONE, now=now)
    expired = _entry(resident, "pension", state=EntryState.DONE, now=now, age=timedelta(hours=25))
    refreshing = _entry(resident, "income_tax", state=EntryState.FETCHING, now=now, age=timedelta(hours=25))
    failing = _entry(resident, "vaccination", state=EntryState.FAILED, now=now, age=timedelta(hours=25))
    failed_empty = _entry(resident, "disability", state=EntryState.FAILED, now=now, payload=None)

    assert myinfo_purge_expired(now=now) == 3

    assert not CategoryEntry.objects.filter(pk=expired.pk).exists()
    assert CategoryEntry.objects.get(pk=fresh.pk).payload is not None
    for kept in (refreshing, failing):
        kept.refresh_from_db()
        assert kept.payload is None and kept.expires_at is None and kept.as_of is None
    assert CategoryEntry.objects.get(pk=refreshing.pk).state == EntryState.FETCHING
    assert CategoryEntry.objects.filter(pk=failed_empty.pk).exists()
    assert myinfo_purge_expired(now=now) == 0


def test_purge_task(resident):
    now = timezone.now()
    _entry(resident, "pension", state=EntryState.DONE, now=now, age=timedelta(hours=25))
    assert purge_expired.apply().get() == 1
    assert not CategoryEntry.objects.exists()
