"""The Celery app. Queue names live here as constants so that every queue has a named consumer."""

import os
from typing import Any

from celery import Celery
from celery.app.amqp import AMQP

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")


class PortalAMQP(AMQP):
    """Celery's publishing, held off from a Redis broker that failed a moment ago (portal.core.outages):
    a page that queues work while Redis hangs is refused at once instead of waiting a timeout per task."""

    def _create_task_sender(self) -> Any:
        send = super()._create_task_sender()

        def send_task_message(producer: Any, name: str, message: Any, **options: Any) -> Any:
            import kombu.exceptions

            from portal.core.outages import (
                BROKER_UNREACHABLE,
                SHARED_CACHE_UNREACHABLE,
                broker_address,
                redis_held_off,
                redis_hold_off,
            )

            address = broker_address()
            if address is not None and redis_held_off(address):
                raise kombu.exceptions.OperationalError(f"broker at {address} failed a moment ago")
            try:
                return send(producer, name, message, **options)
            except (*BROKER_UNREACHABLE, *SHARED_CACHE_UNREACHABLE):
                if address is not None:
                    redis_hold_off(address)
                raise

        return send_task_message


QUEUE_DEFAULT = "default"
QUEUE_FETCH = "fetch"
QUEUES = (QUEUE_DEFAULT, QUEUE_FETCH)

app = Celery("portal", amqp=PortalAMQP)
app.config_from_object("django.conf:settings", namespace="CELERY")
app.conf.task_default_queue = QUEUE_DEFAULT
app.conf.task_routes = {
    "provision.*": {"queue": QUEUE_FETCH},
    "myinfo.fetch_category": {"queue": QUEUE_FETCH},
    "myinfo.report_mislink": {"queue": QUEUE_FETCH},
    "account.check_with_bank": {"queue": QUEUE_FETCH},
    "proxies.register_with_insurer": {"queue": QUEUE_FETCH},
    "proxies.withdraw_from_insurer": {"queue": QUEUE_FETCH},
}
app.autodiscover_tasks()
