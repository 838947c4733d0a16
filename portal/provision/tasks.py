"""Celery task that refreshes a resident's information-provision records: a thin wrapper around services.

Routed to the fetch queue (``task_routes`` in portal.celery). Safe to run twice (acks_late, redelivery):
storing is an idempotent upsert, and a task queued before a fetch that has since succeeded does nothing.
"""

from datetime import datetime
from typing import Any

from celery import Task, shared_task
from celery.exceptions import SoftTimeLimitExceeded, TimeLimitExceeded

from portal.agencies.client import AgencyUnavailable
from portal.identity.models import Resident
from portal.provision import selectors, services


class RefreshRecordsTask(Task):
    def on_failure(self, exc: BaseException, task_id: str, args: Any, kwargs: Any, einfo: Any) -> None:
        # Final failure only (a retry is not a failure): leave a state residents and staff can see.
        if isinstance(exc, AgencyUnavailable | SoftTimeLimitExceeded | TimeLimitExceeded):
            resident_id = kwargs.get("resident_id", args[0] if args else None)
            if resident_id is not None:
                services.provision_fetch_gave_up(resident_id=int(resident_id))


@shared_task(
    base=RefreshRecordsTask,
    name="provision.refresh_records",
    acks_late=True,
    autoretry_for=(AgencyUnavailable,),
    retry_backoff=2,
    retry_backoff_max=300,
    retry_jitter=True,
    max_retries=5,
    soft_time_limit=30,
    time_limit=45,
)
def refresh_records(resident_id: int, requested_at: str | None = None) -> int:
    """How many records were new; 0 when the folder is gone or a later fetch already succeeded."""
    resident = Resident.objects.filter(pk=resident_id).first()
    if resident is None:
        return 0
    if requested_at and selectors.provision_fetched_since(
        resident_id=resident_id, since=datetime.fromisoformat(requested_at)
    ):
        services.provision_request_end(resident_id=resident_id, upto=datetime.fromisoformat(requested_at))
        return 0
    return services.provision_records_refresh(resident=resident)
