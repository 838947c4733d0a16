"""A notice whose announcement task was lost is announced by the lost-task sweep, once; announcing it
again tells nobody twice."""

from datetime import timedelta

import pytest
from django.utils import timezone

from notices.models import Notice
from notices.tasks import announce_notice
from portal.core.lost_tasks import lost_task_stall, lost_tasks_recover
from portal.notify.models import Delivery, NotificationPreference
from tests.notices.conftest import notice_body, to_resident

pytestmark = pytest.mark.django_db

KIND = "notices.announce"


def sweep(now) -> dict[str, int]:
    return lost_tasks_recover(now=now, kinds=[KIND])[KIND]


def later(stalls: int = 1):
    return timezone.now() + lost_task_stall() * stalls + timedelta(seconds=1)


@pytest.fixture
def sent(monkeypatch) -> list[int]:
    calls: list[int] = []
    monkeypatch.setattr(announce_notice, "delay", lambda notice_id: calls.append(notice_id))
    return calls


@pytest.fixture
def lost_notice(api, resident, django_capture_on_commit_callbacks) -> Notice:
    NotificationPreference.objects.create(
        resident=resident, email="resident@example.jp", email_verified_at=timezone.now()
    )
    with django_capture_on_commit_callbacks(execute=False):  # the task never reached the broker
        api.post_notice(notice_body(to_resident(resident)))
    return Notice.objects.get()


def test_a_lost_announcement_is_sent_again_once(lost_notice, sent):
    assert sweep(timezone.now()) == {}  # fresh: its task may still come
    assert sweep(later()) == {"sent_again": 1}
    assert sent == [lost_notice.pk]
    assert sweep(later() + timedelta(minutes=1)) == {}


def test_an_announcement_sent_twice_tells_the_resident_once(lost_notice, resident, sent):
    assert announce_notice(lost_notice.pk) == 1  # the sweep's copy
    announce_notice(lost_notice.pk)  # the original, late
    assert Delivery.objects.filter(resident=resident).count() == 1
    lost_notice.refresh_from_db()
    assert lost_notice.announced_at is not None
    assert sweep(later(3)) == {}  # announced: owed no more
    assert sent == []


def test_an_announcement_under_way_is_left_alone(lost_notice, sent):
    Notice.objects.filter(pk=lost_notice.pk).update(announce_tried_at=later() - timedelta(minutes=1))
    assert sweep(later()) == {}
    assert sent == []
