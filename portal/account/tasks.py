"""Celery tasks of the public-fund account: thin wrappers around services, arguments as ids.

The bank check waits on another organisation, so it runs on the fetch queue. It is safe to run twice
(acks_late): an application the bank already answered is left alone, and the same Idempotency-Key is sent
every time.
"""

from typing import Any

from celery import Task, shared_task

from portal.account import services
from portal.agencies.client import AgencyUnavailable


class BankCheckTask(Task):
    def on_failure(self, exc: BaseException, task_id: str, args: Any, kwargs: Any, einfo: Any) -> None:
        # Retries ran out (or a bug): the resident sees "could not be checked" instead of waiting forever.
        application_id = kwargs.get("application_id", args[0] if args else None)
        if application_id is not None:
            services.account_check_gave_up(application_id=int(application_id))


@shared_task(
    base=BankCheckTask,
    name="account.check_with_bank",
    acks_late=True,
    reject_on_worker_lost=True,
    autoretry_for=(AgencyUnavailable,),
    retry_backoff=2,
    retry_backoff_max=120,
    retry_jitter=True,
    max_retries=5,
    soft_time_limit=30,
    time_limit=45,
)
def check_with_bank(application_id: int) -> str:
    return services.account_check_with_bank(application_id=application_id)
