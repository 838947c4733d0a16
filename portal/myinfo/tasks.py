"""Celery tasks of "my information": thin wrappers around services, arguments as JSON ids and strings.

Fetches and mis-link reports go to the fetch queue (``task_routes`` in portal.celery). All are safe to run
twice (acks_late, redelivery after a worker dies): a fetch whose request a later attempt already ended does
nothing, storing overwrites one row, a report carries the same Idempotency-Key every time.
"""

from datetime import datetime
from typing import Any

from celery import Task, shared_task
from django.utils import timezone

from portal.agencies.client import AGENCY_CALL_TASK_OPTIONS, AgencyUnavailable
from portal.myinfo import services


class FetchCategoryTask(Task):
    def on_failure(self, exc: BaseException, task_id: str, args: Any, kwargs: Any, einfo: Any) -> None:
        # A final failure only (a retry is not one): leave a state residents and staff can see.
        resident_id = kwargs.get("resident_id", args[0] if args else None)
        category = kwargs.get("category", args[1] if len(args) > 1 else None)
        if resident_id is not None and category is not None:
            services.myinfo_fetch_gave_up(resident_id=int(resident_id), category=str(category))


@shared_task(
    base=FetchCategoryTask,
    name="myinfo.fetch_category",
    **AGENCY_CALL_TASK_OPTIONS,
)
def fetch_category(resident_id: int, category: str, requested_at: str | None = None) -> str:
    """The entry's state after one fetch of one category (``gone``, ``skipped`` when nothing to do)."""
    return services.category_fetch(
        resident_id=resident_id,
        category=category,
        requested_at=datetime.fromisoformat(requested_at) if requested_at else None,
    )


@shared_task(
    name="myinfo.report_mislink",
    acks_late=True,
    reject_on_worker_lost=True,
    autoretry_for=(AgencyUnavailable,),
    retry_backoff=30,
    retry_backoff_max=300,
    retry_jitter=True,
    max_retries=8,
    soft_time_limit=30,
    time_limit=45,
)
def report_mislink(quarantine_id: int) -> str:
    """The agency's report id; a final refusal stays on the quarantine for staff to see and resend."""
    return services.quarantine_report_send(quarantine_id=quarantine_id)


@shared_task(name="myinfo.purge_expired", soft_time_limit=100, time_limit=120)
def purge_expired() -> int:
    return services.myinfo_purge_expired(now=timezone.now())
