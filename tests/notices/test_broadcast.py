"""Broadcasts: stored once, found by every matching inbox at query time, by no other."""

import datetime as dt

import pytest

from notices.models import Notice, NoticeState
from notices.selectors import broadcast_residents, notice_visible
from tests.factories import ResidentFactory
from tests.notices.conftest import logged_in, notice_body

pytestmark = pytest.mark.django_db


@pytest.fixture
def people(db):
    return {
        "naka_parent": ResidentFactory(
            address="神奈川県横浜市中区港町一丁目1番地", birth_date=dt.date(1990, 4, 12)
        ),
        "naka_child": ResidentFactory(
            address="神奈川県横浜市中区港町一丁目1番地", birth_date=dt.date(2016, 9, 3)
        ),
        "naka_elder": ResidentFactory(
            address="神奈川県横浜市中区山下町10番地", birth_date=dt.date(1940, 1, 1)
        ),
        "nishi": ResidentFactory(
            address="神奈川県横浜市西区みなとみらい二丁目", birth_date=dt.date(1985, 1, 1)
        ),
        "osaka": ResidentFactory(
            address="大阪府大阪市北区中之島一丁目3番20号", birth_date=dt.date(1942, 1, 20)
        ),
    }


def _seen_by(people, notice) -> set[str]:
    return {name for name, r in people.items() if notice_visible(resident=r).filter(pk=notice.pk).exists()}


def _send(api, recipient, key):
    response = api.post_notice(notice_body(recipient), key=key)
    assert response.status_code == 201, response.content
    return Notice.objects.get(public_id=response.json()["id"])


def test_municipality_broadcast_is_one_row_seen_by_its_residents_only(api, people):
    notice = _send(api, {"type": "segment", "municipality": "神奈川県横浜市中区"}, "naka")
    assert Notice.objects.count() == 1 and notice.recipient is None
    assert NoticeState.objects.count() == 0  # no per-resident copies, not even state rows
    assert _seen_by(people, notice) == {"naka_parent", "naka_child", "naka_elder"}
    assert set(broadcast_residents(notice=notice)) == {
        people[n] for n in ("naka_parent", "naka_child", "naka_elder")
    }


def test_age_range_broadcast(api, people):
    notice = _send(api, {"type": "segment", "min_age": 65}, "elders")
    assert _seen_by(people, notice) == {"naka_elder", "osaka"}
    notice = _send(api, {"type": "segment", "max_age": 14}, "children")
    assert _seen_by(people, notice) == {"naka_child"}
    notice = _send(
        api, {"type": "segment", "municipality": "神奈川県横浜市", "min_age": 18, "max_age": 64}, "adults"
    )
    assert _seen_by(people, notice) == {"naka_parent", "nishi"}


def test_everyone_broadcast_reaches_later_residents_too(api, people):
    notice = _send(api, {"type": "everyone"}, "all")
    assert _seen_by(people, notice) == set(people)
    newcomer = ResidentFactory(address="北海道札幌市中央区北1条西2丁目")
    assert notice_visible(resident=newcomer).filter(pk=notice.pk).exists()


def test_broadcast_state_rows_appear_on_interaction_and_count(api, people):
    notice = _send(api, {"type": "segment", "municipality": "神奈川県横浜市中区"}, "naka")
    logged_in(people["naka_parent"]).get(f"/notices/{notice.public_id}/")
    assert NoticeState.objects.filter(notice=notice).count() == 1
    counts = api.get(f"notices/{notice.public_id}").json()["delivery"]
    assert counts == {"delivered": 3, "read": 1, "responded": 0}


def test_broadcast_does_not_open_for_a_resident_outside_the_segment(api, people):
    notice = _send(api, {"type": "segment", "municipality": "神奈川県横浜市中区"}, "naka")
    assert logged_in(people["osaka"]).get(f"/notices/{notice.public_id}/").status_code == 404
    assert not NoticeState.objects.exists()


def test_municipality_prefix_is_matched_literally(api, people):
    # A LIKE wildcard in the segment must not widen it.
    notice = _send(api, {"type": "segment", "municipality": "神奈川県%"}, "wild")
    assert _seen_by(people, notice) == set()
