"""A mis-link report whose task was lost (or gave up while the agency was down) is sent again by the
lost-task sweep, once; however often it is sent, the agency gets one report under one key and the
resident's history one record."""

from datetime import timedelta

import pytest
from django.utils import timezone

from portal.core.lost_tasks import lost_task_stall, lost_tasks_recover
from portal.history.models import ReleaseRecord
from portal.myinfo.models import Quarantine
from portal.myinfo.services import category_fetch, quarantine_report_send
from tests.myinfo.conftest import answer_for, json_reply

pytestmark = pytest.mark.django_db

KIND = "myinfo.mislink_report"
STRANGER = {"name": "鈴木 一朗", "name_kana": "スズキ イチロウ", "birth_date": "1979-08-01"}
INSURANCE = {"insurer": "健康保険組合", "member_number": "12345678"}


def sweep(now) -> dict[str, int]:
    return lost_tasks_recover(now=now, kinds=[KIND])[KIND]


def later(stalls: int = 1):
    return timezone.now() + lost_task_stall() * stalls + timedelta(seconds=1)


@pytest.fixture
def unreported(agencies, resident, no_report_task) -> Quarantine:
    """A quarantine whose report the agency could not take, its retry task lost."""
    agencies.answer("health_insurance", answer_for(resident, "health_insurance", INSURANCE, subject=STRANGER))
    agencies.report_reply = json_reply({"error": "outage"}, status=503)
    category_fetch(resident_id=resident.pk, category="health_insurance")
    no_report_task.clear()
    quarantine = Quarantine.objects.get(resident=resident)
    assert quarantine.report_id == "" and quarantine.report_error == "unavailable"
    return quarantine


def test_a_lost_report_is_sent_again_once(unreported, no_report_task):
    assert sweep(timezone.now()) == {}  # just tried: its retry may still come
    assert sweep(later()) == {"sent_again": 1}
    assert no_report_task == [{"kwargs": {"quarantine_id": unreported.pk}}]
    assert sweep(later() + timedelta(minutes=1)) == {}


def test_a_report_sent_again_is_one_report_and_one_history_record(agencies, resident, unreported):
    agencies.report_reply = json_reply({"report_id": "MLR-0001", "status": "received"}, status=202)
    assert quarantine_report_send(quarantine_id=unreported.pk) == "MLR-0001"  # the sweep's copy
    assert quarantine_report_send(quarantine_id=unreported.pk) == "MLR-0001"  # the retry, late

    keys = {r.headers["Idempotency-Key"] for r in agencies.reports()}
    assert keys == {str(unreported.public_id)} and len(agencies.reports()) == 2  # the 503, then one taken
    assert ReleaseRecord.objects.filter(owner=resident, purpose="mislink_report").count() == 1
    assert sweep(later(3)) == {}  # reported: owed no more


def test_a_refused_report_waits_for_staff(agencies, unreported, no_report_task):
    agencies.report_reply = json_reply({"error": "unknown_code"}, status=404)
    with pytest.raises(Exception):  # noqa: B017 -- the client's AgencyError
        quarantine_report_send(quarantine_id=unreported.pk)
    unreported.refresh_from_db()
    assert unreported.report_error not in ("", "unavailable")
    assert sweep(later(3)) == {}
    assert no_report_task == []
