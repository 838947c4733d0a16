"""The notification tasks: names, queue, retries that end before the broker redelivers, and the
VAPID key (made in the demo and tests, never in production)."""

import pytest
from cryptography.hazmat.primitives import serialization
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from portal.celery import QUEUE_DEFAULT, QUEUES
from portal.celery import app as celery_app
from portal.core.keyfiles import p256_private_key
from portal.notify import services, vapid
from portal.notify.tasks import notify_resident, send_deliveries, send_delivery, send_delivery_later
from tests.notify.conftest import b64url_decode


def _queue(task) -> str:
    return celery_app.amqp.router.route({}, task.name, (), {})["queue"].name


def test_tasks_are_named_and_run_on_the_default_queue():
    assert (send_deliveries.name, send_delivery.name, notify_resident.name) == (
        "notify.send_deliveries",
        "notify.send_delivery",
        "notify.notify_resident",
    )
    assert {_queue(send_deliveries), _queue(send_delivery), _queue(notify_resident)} == {QUEUE_DEFAULT}
    assert QUEUE_DEFAULT in QUEUES


def test_sending_retries_with_back_off_and_ends_before_redelivery():
    assert send_delivery.acks_late is True and send_delivery.reject_on_worker_lost is True
    assert (
        send_delivery.retry_backoff and send_delivery.retry_jitter is True and send_delivery.max_retries == 6
    )
    assert send_delivery.soft_time_limit < send_delivery.time_limit
    visibility = settings.CELERY_BROKER_TRANSPORT_OPTIONS.get("visibility_timeout", 3600)
    assert send_delivery.retry_backoff_max + send_delivery.time_limit < visibility


def test_a_batch_stops_starting_sends_well_before_its_time_limit_and_ends_before_redelivery():
    assert send_deliveries.acks_late is True and send_deliveries.reject_on_worker_lost is True
    # The last send started may take a client's whole timeout (connect, then read) after the deadline.
    last_send = 2 * max(settings.WEBPUSH_TIMEOUT_SECONDS, 10)
    assert (
        services.SEND_BATCH_SECONDS + last_send < send_deliveries.soft_time_limit < send_deliveries.time_limit
    )
    visibility = settings.CELERY_BROKER_TRANSPORT_OPTIONS.get("visibility_timeout", 3600)
    assert send_deliveries.time_limit < visibility


def test_a_batchs_retry_is_a_single_send_that_counts_the_batchs_try(monkeypatch):
    queued = []
    monkeypatch.setattr(send_delivery, "apply_async", lambda **options: queued.append(options))
    send_delivery_later(42)
    ((options),) = queued
    assert options["args"] == (42,) and options["retries"] == 1
    assert 0 <= options["countdown"] <= send_delivery.retry_backoff  # the first back-off, with jitter


def test_the_vapid_key_is_made_once_and_its_public_half_is_a_p256_point(settings, tmp_path):
    settings.VAPID_PRIVATE_KEY_FILE = str(tmp_path / "keys" / "vapid.pem")
    public = vapid.vapid_public_key()
    assert (tmp_path / "keys" / "vapid.pem").stat().st_mode & 0o777 == 0o600
    point = b64url_decode(public)
    assert len(point) == 65 and point[0] == 4
    p256_private_key.cache_clear()
    assert vapid.vapid_public_key() == public  # read back, not made again
    pem = (tmp_path / "keys" / "vapid.pem").read_bytes()
    assert serialization.load_pem_private_key(pem, password=None).curve.name == "secp256r1"


def test_production_never_makes_a_vapid_key(settings, tmp_path):
    settings.PRODUCTION = True
    settings.VAPID_PRIVATE_KEY_FILE = str(tmp_path / "missing.pem")
    with pytest.raises(ImproperlyConfigured):
        vapid.vapid_public_key()
    assert not (tmp_path / "missing.pem").exists()


def test_the_deploy_check_names_a_missing_vapid_key(settings, tmp_path):
    from portal.notify.apps import vapid_key_check

    settings.VAPID_PRIVATE_KEY_FILE = str(tmp_path / "missing.pem")
    assert vapid_key_check() == []  # the demo and tests make one when needed
    settings.PRODUCTION = True
    assert [message.id for message in vapid_key_check()] == ["notify.E001"]
