"""The Celery app. Queue names live here as constants so that every queue has a named consumer."""

import os
from typing import Any

from celery import Celery, signals
from celery.app.amqp import AMQP
from django.db import close_old_connections, connections

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


# Celery's Django fix-up closes every database connection before and after each task, so each task opened a
# new PostgreSQL connection: a backend forked, authenticated, its catalog caches cold (about 1 ms of the
# worker's CPU and several of PostgreSQL's per task, bench/README.md, issue 4). CELERY_DB_REUSE_MAX (in
# settings) turns that off; instead a task keeps its thread's connection as a request does: closed when an
# error left it unusable or it outlived DATABASE_CONN_MAX_AGE, and checked (SELECT 1) before it is reused,
# so a database restart between tasks costs a new connection, not a failed task.


@signals.worker_init.connect
def _database_connections_checked(**_: Any) -> None:
    for alias in connections:
        connections.settings[alias]["CONN_HEALTH_CHECKS"] = True


@signals.task_prerun.connect
@signals.task_postrun.connect
def _database_connections_kept(task: Any = None, **_: Any) -> None:
    # An eager task runs inside its caller's transaction (a test's, a view's): its connection is not ours.
    if task is not None and not getattr(task.request, "is_eager", False):
        close_old_connections()
