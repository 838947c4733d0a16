"""Celery tasks of the public-fund account: thin wrappers around services, arguments as ids.

The bank check waits on another organisation, so it runs on the fetch queue. It is safe to run twice
(acks_late): an application the bank already answered is left alone, and the same Idempotency-Key is sent
every time.
"""

from typing import Any

from celery import Task, shared_task

from portal.account import services
from portal.agencies.client import AGENCY_CALL_TASK_OPTIONS


class BankCheckTask(Task):
    def on_failure(self, exc: BaseException, task_id: str, args: Any, kwargs: Any, einfo: Any) -> None:
        # Retries ran out (or a bug): the resident sees "could not be checked" instead of waiting forever.
        application_id = kwargs.get("application_id", args[0] if args else None)
        if application_id is not None:
            services.account_check_gave_up(application_id=int(application_id))


@shared_task(
    base=BankCheckTask,
    name="account.check_with_bank",
    **AGENCY_CALL_TASK_OPTIONS,
)
def check_with_bank(application_id: int) -> str:
    return services.account_check_with_bank(application_id=application_id)
