"""A notice whose announcement task was lost is announced by the lost-task sweep, once; announcing it
again tells nobody twice. A webhook delivery whose task was lost is sent again, once, and reaches the
agency once; a retry whose back-off ended is queued by the same sweep."""

from datetime import timedelta

import pytest
from django.utils import timezone

from notices.models import DeliveryState, Notice, WebhookDelivery
from notices.tasks import announce_notice, deliver_webhook
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


# --- webhook deliveries ----------------------------------------------------------------------------------

WEBHOOK = "notices.webhook"


def webhook_sweep(now) -> dict[str, int]:
    return lost_tasks_recover(now=now, kinds=[WEBHOOK])[WEBHOOK]


@pytest.fixture
def attempts_queued(monkeypatch) -> list[int]:
    calls: list[int] = []
    monkeypatch.setattr(deliver_webhook, "delay", lambda delivery_id: calls.append(delivery_id))
    return calls


def test_a_lost_webhook_delivery_is_sent_again_once(answered, attempts_queued):
    assert webhook_sweep(timezone.now()) == {}  # fresh: its task may still come
    assert webhook_sweep(later()) == {"sent_again": 1}
    assert attempts_queued == [answered.pk]
    answered.refresh_from_db()
    assert answered.next_attempt_at > later() + timedelta(minutes=1)  # marked: a whole stall ahead
    assert webhook_sweep(later() + timedelta(minutes=1)) == {}
    assert attempts_queued == [answered.pk]
    assert webhook_sweep(later(2) + timedelta(minutes=1)) == {"sent_again": 1}  # lost again: once more


def test_a_webhook_sent_again_reaches_the_agency_once(answered, webhook, monkeypatch):
    monkeypatch.setattr(
        deliver_webhook, "delay", lambda delivery_id: deliver_webhook.apply(args=[delivery_id])
    )
    assert webhook_sweep(later()) == {"sent_again": 1}  # the sweep's copy delivers it
    assert deliver_webhook.apply(args=[answered.pk]).get() == DeliveryState.DELIVERED  # the original, late
    assert len(webhook.received) == 1
    answered.refresh_from_db()
    assert answered.state == DeliveryState.DELIVERED and answered.attempts == 1
    assert webhook_sweep(later(3)) == {}  # delivered: owed no more


def test_a_retry_whose_back_off_ended_is_released_not_counted_lost(answered, webhook, attempts_queued):
    webhook.statuses = [503]
    assert deliver_webhook.apply(args=[answered.pk]).get() == DeliveryState.RETRYING
    answered.refresh_from_db()
    assert webhook_sweep(answered.next_attempt_at - timedelta(seconds=1)) == {}  # still backing off
    assert webhook_sweep(answered.next_attempt_at) == {"released": 1}  # due at once, not a stall later
    assert attempts_queued == [answered.pk]


def test_an_attempt_under_way_and_finished_deliveries_are_left_alone(answered, attempts_queued):
    # Queued a minute before the sweep: its task has the rest of a stall to attempt it.
    WebhookDelivery.objects.filter(pk=answered.pk).update(next_attempt_at=later() + timedelta(minutes=1))
    assert webhook_sweep(later()) == {}
    for state in (DeliveryState.DELIVERED, DeliveryState.DEAD):
        WebhookDelivery.objects.filter(pk=answered.pk).update(state=state, next_attempt_at=timezone.now())
        assert webhook_sweep(later(3)) == {}
    assert attempts_queued == []
