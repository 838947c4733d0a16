"""Answers reach the agency's webhook (a real local HTTP server here): signed, retried with back-off,
idempotent by event id, dead-lettered after the last attempt, sent again by staff."""

import base64
import datetime as dt
import hashlib
import hmac
import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.utils import timezone

from notices.models import DeliveryState, Notice, NoticeResponse, WebhookDelivery
from notices.services import WEBHOOK_LEASE, webhook_backoff, webhook_retry, webhook_send_due
from notices.tasks import announce_notice, deliver_webhook, send_due_webhooks
from tests.notices.conftest import WEBHOOK_SECRET, code_of, logged_in, notice_body, to_resident

pytestmark = pytest.mark.django_db


class AgencyWebhook:
    """A local HTTP server standing for the agency: answers with the statuses queued, records requests."""

    def __init__(self) -> None:
        self.statuses: list[int] = []
        self.received: list[dict] = []
        webhook = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                webhook.received.append({"headers": dict(self.headers), "body": body})
                status = webhook.statuses.pop(0) if webhook.statuses else 200
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/portal-events"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def webhook(agency_client, settings) -> Iterator[AgencyWebhook]:
    server = AgencyWebhook()
    agency_client.webhook_url = server.url
    agency_client.save(update_fields=["webhook_url"])
    settings.NOTICE_WEBHOOK_MAX_ATTEMPTS = 3
    settings.NOTICE_WEBHOOK_TIMEOUT = 5
    yield server
    server.close()


@pytest.fixture
def answered(api, resident, webhook) -> WebhookDelivery:
    response = api.post_notice(notice_body(to_resident(resident), action={"type": "confirm"}))
    notice = Notice.objects.get(public_id=response.json()["id"])
    logged_in(resident).post(f"/notices/{notice.public_id}/respond/", {"confirmed": "on"})
    return WebhookDelivery.objects.get()


@pytest.fixture
def sweep(monkeypatch, django_capture_on_commit_callbacks):
    """The beat's sweep, as time passes: every delivery waiting for a retry is due now; tasks run here."""
    monkeypatch.setattr(
        "notices.tasks.deliver_webhook.delay", lambda delivery_id: deliver_webhook.apply(args=[delivery_id])
    )

    def run() -> int:
        WebhookDelivery.objects.filter(state=DeliveryState.RETRYING).update(next_attempt_at=timezone.now())
        with django_capture_on_commit_callbacks(execute=True):
            return webhook_send_due()

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
    assert webhook_send_due() == 0  # not due yet
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


def test_a_lost_task_is_queued_again_once_its_lease_ends(
    answered, webhook, monkeypatch, django_capture_on_commit_callbacks
):
    queued = []
    monkeypatch.setattr("notices.tasks.deliver_webhook.delay", queued.append)
    assert webhook_send_due() == 0  # just made: its task is on its way
    later = answered.next_attempt_at + dt.timedelta(seconds=1)
    with django_capture_on_commit_callbacks(execute=True):
        assert webhook_send_due(now=later) == 1
        assert webhook_send_due(now=later) == 0  # leased: queued once
    assert queued == [answered.pk]


def test_staff_see_deliveries_without_their_content(answered, admin_client):
    page = admin_client.get("/staff/admin/notices/webhookdelivery/")
    assert page.status_code == 200 and "pending" in page.content.decode().lower()
    detail = admin_client.get(f"/staff/admin/notices/webhookdelivery/{answered.pk}/change/").content.decode()
    assert "answers" not in detail and "agency_code" not in detail


def test_tasks_use_the_default_queue_and_the_sweep_runs_every_minute(settings):
    from portal.celery import QUEUE_DEFAULT
    from portal.celery import app as celery_app

    for task in (deliver_webhook, send_due_webhooks, announce_notice):
        assert celery_app.amqp.router.route({}, task.name, (), {})["queue"].name == QUEUE_DEFAULT
    assert deliver_webhook.acks_late and deliver_webhook.reject_on_worker_lost
    assert deliver_webhook.soft_time_limit < deliver_webhook.time_limit < WEBHOOK_LEASE.total_seconds()
    (entry,) = [e for e in settings.CELERY_BEAT_SCHEDULE.values() if e["task"] == send_due_webhooks.name]
    assert entry["schedule"].total_seconds() <= 60
