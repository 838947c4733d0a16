"""Pushes and mails whose task was lost are queued again by the lost-task sweep, once, in batches, and
go out once; held ones are queued when they fall due; one between its retries, or queued again by a batch
that ran out of time, is not taken for lost."""

from datetime import timedelta

import pytest
from django.utils import timezone

from portal.core.lost_tasks import lost_task_kinds, lost_task_stall, lost_tasks_recover
from portal.notify import services
from portal.notify.models import Channel, Delivery, DeliveryStatus
from portal.notify.tasks import send_deliveries
from tests.notify.test_push_delivery import subscribe

pytestmark = pytest.mark.django_db

KIND = "notify.delivery"


def sweep(now) -> dict[str, int]:
    return lost_tasks_recover(now=now, kinds=[KIND])[KIND]


def later(stalls: int = 1):
    return timezone.now() + lost_task_stall() * stalls + timedelta(seconds=1)


@pytest.fixture
def batches(monkeypatch) -> list[list[int]]:
    calls: list[list[int]] = []
    monkeypatch.setattr(send_deliveries, "delay", lambda delivery_ids: calls.append(list(delivery_ids)))
    return calls


@pytest.fixture
def lost_push(resident, make_subscriber) -> Delivery:
    """A push whose batch task never reached the broker (the test's transaction never commits)."""
    subscribe(resident, make_subscriber())
    (delivery,) = services.notify_resident(resident=resident, kind="notice", category="tax", url="/notices/")
    assert delivery.status == DeliveryStatus.QUEUED
    return delivery


def test_a_lost_delivery_is_queued_again_once(lost_push, batches, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        assert sweep(timezone.now()) == {}  # fresh: its task may still come
        assert sweep(later()) == {"sent_again": 1}
        assert sweep(later() + timedelta(minutes=1)) == {}  # marked: the next sweep waits a stall
    assert batches == [[lost_push.pk]]
    lost_push.refresh_from_db()
    assert lost_push.status == DeliveryStatus.QUEUED and lost_push.due_at > timezone.now()


def test_a_delivery_queued_again_is_pushed_once(
    lost_push, push_service, eager, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        assert sweep(later()) == {"sent_again": 1}  # the sweep's copy sends it
    assert send_deliveries.apply(args=[[lost_push.pk]]).get() == {"sent": 1}  # the original, late
    assert len(push_service.requests) == 1
    lost_push.refresh_from_db()
    assert lost_push.status == DeliveryStatus.SENT and lost_push.attempts == 1
    assert sweep(later(3)) == {}  # sent: owed no more


def test_lost_deliveries_go_again_in_batches(resident, batches, django_capture_on_commit_callbacks):
    old = timezone.now() - lost_task_stall() - timedelta(minutes=1)
    Delivery.objects.bulk_create(
        Delivery(
            resident=resident,
            kind="notice",
            category="tax",
            channel=Channel.EMAIL,
            url="/notices/",
            status=DeliveryStatus.QUEUED,
            due_at=old,
        )
        for _ in range(services.SEND_BATCH + 20)
    )
    with django_capture_on_commit_callbacks(execute=True):
        assert sweep(timezone.now()) == {"sent_again": services.SEND_BATCH + 20}
    assert [len(batch) for batch in batches] == [services.SEND_BATCH, 20]


def test_the_sweep_takes_a_minute_s_worth_of_deliveries():
    # Quiet hours end for many residents at once: one sweep queues as many as the old release did.
    assert lost_task_kinds()[KIND].batch == services.SWEEP_DELIVERIES >= 20_000


def test_a_held_delivery_is_queued_when_it_falls_due_not_a_stall_later(
    lost_push, batches, django_capture_on_commit_callbacks
):
    due = timezone.now() + timedelta(hours=8)  # quiet hours until then
    Delivery.objects.filter(pk=lost_push.pk).update(status=DeliveryStatus.HELD, due_at=due)
    with django_capture_on_commit_callbacks(execute=True):
        assert sweep(due - timedelta(seconds=1)) == {}
        assert sweep(due) == {"released": 1}  # routine: not counted as lost
        assert sweep(due + timedelta(minutes=1)) == {}
    assert batches == [[lost_push.pk]]
    lost_push.refresh_from_db()
    assert lost_push.status == DeliveryStatus.QUEUED and lost_push.due_at == due


def test_a_delivery_between_its_retries_is_not_taken_for_lost(
    lost_push, push_service, monkeypatch, django_capture_on_commit_callbacks
):
    retries: list[int] = []
    monkeypatch.setattr("portal.notify.tasks.send_delivery_later", retries.append)
    queued_at = timezone.now() - timedelta(minutes=10)  # it waited in a long queue
    Delivery.objects.filter(pk=lost_push.pk).update(due_at=queued_at)
    push_service.answer("device-1", 503)
    with django_capture_on_commit_callbacks(execute=True):
        assert services.deliveries_send(delivery_ids=[lost_push.pk]) == {"queued": 1}
    assert retries == [lost_push.pk]  # its retry waits out a back-off, as a delayed task
    with django_capture_on_commit_callbacks(execute=True):
        assert sweep(queued_at + lost_task_stall() + timedelta(seconds=1)) == {}  # the try was a sign
        assert sweep(later()) == {"sent_again": 1}  # the retry, too, was lost


def test_a_delivery_a_batch_had_no_time_for_is_not_taken_for_lost(
    lost_push, batches, django_capture_on_commit_callbacks
):
    queued_at = timezone.now() - timedelta(minutes=10)  # it waited in a long queue
    Delivery.objects.filter(pk=lost_push.pk).update(due_at=queued_at)
    with django_capture_on_commit_callbacks(execute=True):
        assert services.deliveries_send(delivery_ids=[lost_push.pk], seconds=-1) == {"requeued": 1}
        assert sweep(queued_at + lost_task_stall() + timedelta(seconds=1)) == {}  # queued again: a sign
    assert batches == [[lost_push.pk]]  # the batch's own requeue, not the sweep's


def test_finished_deliveries_are_left_alone(lost_push, batches, django_capture_on_commit_callbacks):
    for status in (DeliveryStatus.SENT, DeliveryStatus.FAILED, DeliveryStatus.GONE, DeliveryStatus.SKIPPED):
        Delivery.objects.filter(pk=lost_push.pk).update(status=status)
        with django_capture_on_commit_callbacks(execute=True):
            assert sweep(later(3)) == {}
    assert batches == []
