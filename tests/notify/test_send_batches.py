"""Deliveries go out in batches (one task for a resident's devices, or for a fan-out's residents), and in a
batch each delivery succeeds, fails or is tried again on its own."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from portal.notify import services, tasks, webpush
from portal.notify.models import Delivery, DeliveryStatus, PushSubscription
from tests.factories import ResidentFactory
from tests.notify.test_email import _verified
from tests.notify.test_push_delivery import NOTICE_PAYLOAD, subscribe

pytestmark = pytest.mark.django_db


@pytest.fixture
def batches_queued(monkeypatch) -> list[list[int]]:
    """The batches handed to the broker (send_deliveries.delay), not run."""
    queued: list[list[int]] = []
    monkeypatch.setattr(tasks.send_deliveries, "delay", lambda ids: queued.append(list(ids)))
    return queued


def _notify(resident, **overrides) -> list[Delivery]:
    arguments = {"kind": "notice", "category": "welfare", "url": "/notices/", **overrides}
    return services.notify_resident(resident=resident, **arguments)


def test_a_residents_devices_are_queued_as_one_batch(
    resident, make_subscriber, push_service, batches_queued, django_capture_on_commit_callbacks
):
    for name in ("phone", "laptop", "tablet"):
        subscribe(resident, make_subscriber(name))
    with django_capture_on_commit_callbacks(execute=True):
        deliveries = _notify(resident)
    assert batches_queued == [[d.pk for d in deliveries]]
    assert push_service.requests == []  # queued, not sent


def test_each_delivery_of_a_batch_ends_on_its_own(
    resident, make_subscriber, push_service, eager, django_capture_on_commit_callbacks, monkeypatch
):
    subscribers = {name: make_subscriber(name) for name in ("fine", "gone", "refused", "busy", "broken")}
    devices = {name: subscribe(resident, subscriber) for name, subscriber in subscribers.items()}
    push_service.answer("gone", 410)
    push_service.answer("refused", 400)
    push_service.answer("busy", 503, 201)
    real_send = webpush.push_send

    def send(**arguments):
        if arguments["endpoint"].endswith("/broken"):
            raise RuntimeError("a bug of ours, for this device only")
        return real_send(**arguments)

    monkeypatch.setattr(webpush, "push_send", send)

    with django_capture_on_commit_callbacks(execute=True):
        deliveries = _notify(resident)

    outcome = {
        d.subscription_id: (d.status, d.error_code, d.attempts)
        for d in Delivery.objects.filter(pk__in=[d.pk for d in deliveries])
    }
    assert outcome == {
        devices["fine"].pk: (DeliveryStatus.SENT, "", 1),
        None: (DeliveryStatus.GONE, "http_410", 1),  # the device was removed with its subscription
        devices["refused"].pk: (DeliveryStatus.FAILED, "http_400", 1),
        devices["busy"].pk: (DeliveryStatus.SENT, "", 2),  # tried again on its own, then sent
        devices["broken"].pk: (DeliveryStatus.FAILED, "internal_error", 1),
    }
    assert not PushSubscription.objects.filter(pk=devices["gone"].pk).exists()
    failures = dict(PushSubscription.objects.values_list("pk", "failure_count"))
    assert failures == {
        devices["fine"].pk: 0,
        devices["refused"].pk: 1,
        devices["busy"].pk: 0,
        devices["broken"].pk: 1,
    }
    fine = next(r for r in push_service.requests if r.path == "/push/fine")
    assert subscribers["fine"].decrypt(fine.body) == NOTICE_PAYLOAD


def test_a_push_and_a_mail_in_one_batch_both_go_out(
    resident, make_subscriber, push_service, smtp_server, eager, django_capture_on_commit_callbacks
):
    subscriber = make_subscriber()
    subscribe(resident, subscriber)
    _verified(resident)
    with django_capture_on_commit_callbacks(execute=True):
        deliveries = services.notify_resident(
            resident=resident, kind="notice", category="tax", url="/notices/"
        )
    assert sorted(d.channel for d in deliveries) == ["email", "push"]
    assert set(Delivery.objects.values_list("status", flat=True)) == {DeliveryStatus.SENT}
    assert subscriber.decrypt(push_service.requests[0].body) == NOTICE_PAYLOAD
    assert len(smtp_server.messages) == 1


def test_a_batch_reads_and_writes_in_the_same_few_queries_whatever_its_size(
    make_subscriber, push_service, batches_queued
):
    def queries_to_send(devices: int) -> int:
        resident = ResidentFactory()
        for number in range(devices):
            subscribe(resident, make_subscriber(f"{resident.pk}-{number}"))
        ids = [d.pk for d in _notify(resident)]
        with CaptureQueriesContext(connection) as captured:
            assert services.deliveries_send(delivery_ids=ids) == {DeliveryStatus.SENT: devices}
        return len(captured)

    # Two reads (the deliveries with their devices, the preferences), then the sent ones, the devices'
    # last success, inside one savepoint.
    assert queries_to_send(2) == queries_to_send(8) <= 6


def test_a_batch_run_twice_sends_nothing_twice(resident, make_subscriber, push_service, batches_queued):
    subscribe(resident, make_subscriber("phone"))
    subscribe(resident, make_subscriber("laptop"))
    ids = [d.pk for d in _notify(resident)]

    assert services.deliveries_send(delivery_ids=ids) == {DeliveryStatus.SENT: 2}
    assert services.deliveries_send(delivery_ids=ids) == {DeliveryStatus.SENT: 2}
    assert len(push_service.requests) == 2
    assert list(Delivery.objects.values_list("attempts", flat=True)) == [1, 1]


def test_a_batch_out_of_time_queues_the_rest_again(
    resident, make_subscriber, push_service, batches_queued, django_capture_on_commit_callbacks
):
    subscribe(resident, make_subscriber("phone"))
    subscribe(resident, make_subscriber("laptop"))
    ids = [d.pk for d in _notify(resident)]

    with django_capture_on_commit_callbacks(execute=True):
        assert services.deliveries_send(delivery_ids=ids, seconds=-1) == {"requeued": 2}

    assert push_service.requests == []
    assert set(Delivery.objects.values_list("status", flat=True)) == {DeliveryStatus.QUEUED}
    assert batches_queued == [ids]


def test_a_fan_out_queues_residents_together(
    make_subscriber, push_service, batches_queued, django_capture_on_commit_callbacks, monkeypatch
):
    monkeypatch.setattr(services, "SEND_BATCH", 2)
    residents = [ResidentFactory() for _ in range(3)]
    for resident in residents:
        subscribe(resident, make_subscriber(f"device-{resident.pk}"))

    made: list[int] = []
    with services.deliveries_queued_together():
        for resident in residents:
            with django_capture_on_commit_callbacks(execute=True):
                made += [d.pk for d in _notify(resident)]
            if resident is residents[1]:
                assert batches_queued == [made]  # a full batch does not wait for the end
    assert batches_queued == [made[:2], made[2:]]  # the rest on leaving

    with django_capture_on_commit_callbacks(execute=True):
        alone = _notify(residents[0])
    assert batches_queued[-1] == [alone[0].pk]  # outside a fan-out: a task per call, at once


def test_a_fan_out_does_not_keep_deliveries_waiting_long(
    make_subscriber, push_service, batches_queued, django_capture_on_commit_callbacks, monkeypatch
):
    residents = [ResidentFactory() for _ in range(2)]
    for resident in residents:
        subscribe(resident, make_subscriber(f"device-{resident.pk}"))
    clock = [100.0]
    monkeypatch.setattr(services, "monotonic", lambda: clock[0])

    with services.deliveries_queued_together():
        with django_capture_on_commit_callbacks(execute=True):
            first = _notify(residents[0])
        assert batches_queued == []
        clock[0] += services.TOGETHER_SECONDS
        with django_capture_on_commit_callbacks(execute=True):
            second = _notify(residents[1])
        assert batches_queued == [[first[0].pk, second[0].pk]]  # the first had waited long enough
