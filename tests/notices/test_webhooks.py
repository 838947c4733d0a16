"""Answers reach the agency's webhook (a real local HTTP server here): signed, retried with back-off (the
lost-task sweep queues a retry when its back-off ends), idempotent by event id, dead-lettered after the
last attempt, sent again by staff."""

import base64
import hashlib
import hmac
import json
import time

import pytest
from django.utils import timezone

from notices.models import DeliveryState, NoticeResponse, WebhookDelivery
from notices.services import webhook_backoff, webhook_retry
from notices.tasks import announce_notice, deliver_webhook
from portal.core.lost_tasks import lost_task_stall, lost_tasks_recover
from tests.notices.conftest import WEBHOOK_SECRET, AgencyWebhook, code_of

pytestmark = pytest.mark.django_db

KIND = "notices.webhook"


def swept(now=None) -> dict[str, int]:
    """One run of the beat's lost-task sweep for webhook deliveries: what it queued, by outcome."""
    return lost_tasks_recover(now=now or timezone.now(), kinds=[KIND])[KIND]


@pytest.fixture
def sweep(monkeypatch):
    """The beat's sweep, as time passes: every delivery waiting for a retry is due now; tasks run here.
    How many retries it queued."""
    monkeypatch.setattr(
        "notices.tasks.deliver_webhook.delay", lambda delivery_id: deliver_webhook.apply(args=[delivery_id])
    )

    def run() -> int:
        WebhookDelivery.objects.filter(state=DeliveryState.RETRYING).update(next_attempt_at=timezone.now())
        return sum(swept().values())

    return run


def _verify(received: dict) -> dict:
    headers = {k.lower(): v for k, v in received["headers"].items()}
    message = f"{headers['webhook-id']}.{headers['webhook-timestamp']}.".encode() + received["body"]
    expected = base64.b64encode(hmac.new(WEBHOOK_SECRET.encode(), message, hashlib.sha256).digest()).decode()
    assert headers["webhook-signature"] == f"v1,{expected}"
    assert abs(int(headers["webhook-timestamp"]) - time.time()) < 60
    assert headers["content-type"] == "application/json"
    return json.loads(received["body"])


def test_answer_is_delivered_signed(answered, webhook, resident):
    assert deliver_webhook.apply(args=[answered.pk]).get() == DeliveryState.DELIVERED
    assert len(webhook.received) == 1
    event = _verify(webhook.received[0])
    answer = NoticeResponse.objects.get()
    assert event["event_id"] == str(answered.public_id)
    assert event["type"] == "notice.response"
    assert event["response"]["id"] == str(answer.public_id)
    assert event["response"]["agency_code"] == code_of(resident)
    assert event["response"]["answers"] == {}
    assert resident.my_number not in received_text(webhook)
    answered.refresh_from_db()
    assert (
        answered.state == DeliveryState.DELIVERED and answered.attempts == 1 and answered.last_status == 200
    )


def received_text(webhook: AgencyWebhook) -> str:
    return " ".join(r["body"].decode() + json.dumps(r["headers"]) for r in webhook.received)


def test_a_second_run_sends_nothing_more(answered, webhook):
    deliver_webhook.apply(args=[answered.pk])
    deliver_webhook.apply(args=[answered.pk])
    assert len(webhook.received) == 1


def test_failures_are_retried_later_with_the_same_event_and_body(answered, webhook, sweep):
    webhook.statuses = [500, 503]
    assert deliver_webhook.apply(args=[answered.pk]).get() == DeliveryState.RETRYING
    answered.refresh_from_db()
    assert answered.attempts == 1 and answered.last_error == "http_500"
    assert answered.next_attempt_at > timezone.now()  # waits in the database, not in the broker
    assert swept() == {}  # not due yet
    assert sweep() == 1
    assert sweep() == 1
    assert sweep() == 0
    assert len(webhook.received) == 3
    bodies = {r["body"] for r in webhook.received}
    ids = {r["headers"]["webhook-id"] for r in webhook.received}
    assert len(bodies) == 1 and ids == {str(answered.public_id)}
    for received in webhook.received:
        _verify(received)
    answered.refresh_from_db()
    assert answered.state == DeliveryState.DELIVERED and answered.attempts == 3


def test_dead_lettered_after_the_last_attempt_and_sent_again_by_staff(answered, webhook, sweep):
    webhook.statuses = [500, 500, 500]
    deliver_webhook.apply(args=[answered.pk])
    sweep()
    sweep()
    answered.refresh_from_db()
    assert answered.state == DeliveryState.DEAD and answered.attempts == 3
    assert answered.last_status == 500 and answered.last_error == "http_500"
    assert answered.next_attempt_at is None
    assert len(webhook.received) == 3
    assert sweep() == 0
    deliver_webhook.apply(args=[answered.pk])  # a stray redelivery does nothing
    assert len(webhook.received) == 3

    webhook_retry(delivery_id=answered.pk)
    answered.refresh_from_db()
    assert answered.state == DeliveryState.PENDING and answered.attempts == 0
    assert deliver_webhook.apply(args=[answered.pk]).get() == DeliveryState.DELIVERED


def test_unreachable_webhook_counts_as_a_failure(answered, agency_client, sweep):
    agency_client.webhook_url = "http://127.0.0.1:9/closed"
    agency_client.save(update_fields=["webhook_url"])
    deliver_webhook.apply(args=[answered.pk])
    sweep()
    sweep()
    answered.refresh_from_db()
    assert answered.state == DeliveryState.DEAD
    assert answered.last_error == "connect" and answered.last_status is None


def test_back_off_grows_exponentially_with_jitter_and_a_cap(settings):
    settings.NOTICE_WEBHOOK_BACKOFF_BASE = 10
    settings.NOTICE_WEBHOOK_BACKOFF_MAX = 100
    for attempts, ceiling in ((1, 10), (2, 20), (3, 40), (4, 80), (5, 100), (9, 100)):
        waits = {webhook_backoff(attempts) for _ in range(20)}
        assert all(ceiling / 2 <= w <= ceiling for w in waits)
        assert len(waits) > 1


def test_staff_see_deliveries_without_their_content(answered, admin_client):
    page = admin_client.get("/staff/admin/notices/webhookdelivery/")
    assert page.status_code == 200 and "pending" in page.content.decode().lower()
    detail = admin_client.get(f"/staff/admin/notices/webhookdelivery/{answered.pk}/change/").content.decode()
    assert "answers" not in detail and "agency_code" not in detail


def test_tasks_use_the_default_queue_and_end_well_within_a_stall():
    from portal.celery import QUEUE_DEFAULT
    from portal.celery import app as celery_app

    for task in (deliver_webhook, announce_notice):
        assert celery_app.amqp.router.route({}, task.name, (), {})["queue"].name == QUEUE_DEFAULT
    assert deliver_webhook.acks_late and deliver_webhook.reject_on_worker_lost
    # An attempt under way is never taken for lost: it ends long before its next attempt falls due.
    assert deliver_webhook.soft_time_limit < deliver_webhook.time_limit < lost_task_stall().total_seconds()
