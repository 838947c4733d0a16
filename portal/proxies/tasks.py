"""Celery tasks of the proxies app: thin wrappers around services, arguments as ids.

The medical insurer's registrations wait on another organisation, so they run on the fetch queue
(``task_routes`` in portal.celery). Both are safe to run twice (acks_late): a registration that is no
longer on its way is left alone, and the same Idempotency-Key is sent every time.
"""

from typing import Any

from celery import Task, shared_task

from portal.agencies.client import AGENCY_CALL_TASK_OPTIONS
from portal.proxies import insurer, services


@shared_task(name="proxies.end_expired", time_limit=300)
def end_expired() -> int:
    return services.grants_end_expired()


class RegisterWithInsurerTask(Task):
    def on_failure(self, exc: BaseException, task_id: str, args: Any, kwargs: Any, einfo: Any) -> None:
        # Retries ran out (or a bug): a state staff and the principal can see, until the sweep tries again.
        registration_id = kwargs.get("registration_id", args[0] if args else None)
        if registration_id is not None:
            insurer.insurer_registration_gave_up(registration_id=int(registration_id))


@shared_task(base=RegisterWithInsurerTask, name="proxies.register_with_insurer", **AGENCY_CALL_TASK_OPTIONS)
def register_with_insurer(registration_id: int) -> str:
    return insurer.insurer_registration_send(registration_id=registration_id)


@shared_task(name="proxies.withdraw_from_insurer", **AGENCY_CALL_TASK_OPTIONS)
def withdraw_from_insurer(registration_id: int) -> str:
    # Retries that run out leave it "withdrawing": the lost-task sweep sends it again.
    return insurer.insurer_withdrawal_send(registration_id=registration_id)
