"""Celery tasks of notifications: thin wrappers around services, arguments as JSON ids and strings.

All run on the default queue. A delivery is sent only while it is queued, so a task delivered twice
(acks_late, a worker lost) finds it sent and does nothing. Deliveries go out in batches
(send_deliveries); one to be tried again goes on alone (send_delivery), with back-off.
"""

from datetime import datetime
from typing import Any

from celery import Task, shared_task
from celery.utils.time import get_exponential_backoff_interval

from portal.notify import services
from portal.notify.mail import MailRetryable
from portal.notify.webpush import PushRetryable


class SendDeliveryTask(Task):
    def on_failure(self, exc: BaseException, task_id: str, args: Any, kwargs: Any, einfo: Any) -> None:
        # A final failure only (a retry is not one): leave a state residents and staff can see.
        delivery_id = kwargs.get("delivery_id", args[0] if args else None)
        if delivery_id is not None:
            services.delivery_gave_up(delivery_id=int(delivery_id))


@shared_task(
    base=SendDeliveryTask,
    name="notify.send_delivery",
    acks_late=True,
    reject_on_worker_lost=True,
    autoretry_for=(PushRetryable, MailRetryable),
    retry_backoff=10,
    retry_backoff_max=300,
    retry_jitter=True,
    max_retries=6,
    soft_time_limit=30,
    time_limit=45,
)
def send_delivery(delivery_id: int) -> str:
    """The delivery's status after one try: sent, held, gone, skipped or failed."""
    return services.delivery_send(delivery_id=delivery_id)


def send_delivery_later(delivery_id: int) -> None:
    """The retry of a delivery a batch tried once: send_delivery as if that try had been its own, so the
    back-off (with jitter) and the number of tries are the same as for a single send."""
    countdown = get_exponential_backoff_interval(
        factor=send_delivery.retry_backoff,
        retries=0,
        maximum=send_delivery.retry_backoff_max,
        full_jitter=send_delivery.retry_jitter,
    )
    send_delivery.apply_async(args=(delivery_id,), countdown=countdown, retries=1)


@shared_task(
    name="notify.send_deliveries",
    acks_late=True,
    reject_on_worker_lost=True,
    # Sends start for services.SEND_BATCH_SECONDS; the last one may take a client's timeout more.
    soft_time_limit=100,
    time_limit=120,
)
def send_deliveries(delivery_ids: list[int]) -> dict[str, int]:
    """How many of a batch of deliveries ended in each status (see services.deliveries_send)."""
    return services.deliveries_send(delivery_ids=[int(i) for i in delivery_ids])


@shared_task(
    name="notify.notify_resident",
    acks_late=True,
    reject_on_worker_lost=True,
    soft_time_limit=30,
    time_limit=45,
)
def notify_resident(
    resident_id: int,
    kind: str,
    category: str,
    url: str,
    not_before: str | None = None,
    dedupe_key: str = "",
) -> int:
    """How many messages were made for the resident (see services.notify_resident)."""
    return services.notify_resident_by_id(
        resident_id=resident_id,
        kind=kind,
        category=category,
        url=url,
        not_before=datetime.fromisoformat(not_before) if not_before else None,
        dedupe_key=dedupe_key,
    )
