"""Reading the stored records: newest first, by the residents' (Tokyo) days."""

import datetime as dt

import pytest

from portal.provision.selectors import provision_fetch_get, provision_fetched_since, provision_list
from portal.provision.services import provision_records_refresh
from tests.factories import ResidentFactory
from tests.provision.conftest import network_code, provision_answer, provision_record

pytestmark = pytest.mark.django_db


@pytest.fixture
def stored(network, resident):
    records = [
        provision_record(1, occurred_at="2024-06-30T23:30:00+09:00"),  # 14:30 UTC on 30 June
        provision_record(2, occurred_at="2024-07-01T00:10:00+09:00"),  # 15:10 UTC on 30 June
        provision_record(3, occurred_at="2025-08-04T10:00:00+09:00"),
    ]
    network.answer_json(provision_answer(network_code(resident), records))
    provision_records_refresh(resident=resident)
    return resident


def _ids(records) -> list[str]:
    return [r.external_id[-1] for r in records]


def test_newest_first(stored):
    assert _ids(provision_list(resident=stored)) == ["3", "2", "1"]


def test_days_are_tokyo_days_and_inclusive(stored):
    assert _ids(provision_list(resident=stored, date_from=dt.date(2024, 7, 1))) == ["3", "2"]
    assert _ids(provision_list(resident=stored, date_to=dt.date(2024, 6, 30))) == ["1"]
    day = dt.date(2024, 7, 1)
    assert _ids(provision_list(resident=stored, date_from=day, date_to=day)) == ["2"]


def test_only_the_residents_own_records(stored):
    assert list(provision_list(resident=ResidentFactory())) == []


def test_fetch_state(stored):
    fetch = provision_fetch_get(resident=stored)
    assert fetch is not None and not fetch.failed
    assert provision_fetched_since(resident_id=stored.pk, since=fetch.last_success_at)
    assert not provision_fetched_since(
        resident_id=stored.pk, since=fetch.last_success_at + dt.timedelta(seconds=1)
    )
    assert provision_fetch_get(resident=ResidentFactory()) is None
