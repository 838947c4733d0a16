"""Celery tasks of the consent API: thin wrappers around services, arguments as ids."""

from typing import Any

from celery import Task, shared_task

from portal.consents import callbacks, services
from portal.consents.models import Consent


class TellFirmTask(Task):
    def on_failure(self, exc: BaseException, task_id: str, args: Any, kwargs: Any, einfo: Any) -> None:
        # Retries ran out (or a fault of ours): a final state on the consent, left by the lost-task sweep.
        consent_id = kwargs.get("consent_id", args[0] if args else None)
        if consent_id is not None:
            services.consent_firm_tell_gave_up(consent_id=int(consent_id))


@shared_task(
    base=TellFirmTask,
    name="consents.tell_firm_consent_ended",
    acks_late=True,
    reject_on_worker_lost=True,
    autoretry_for=(callbacks.FirmUnreachable,),
    retry_backoff=5,
    # Below the lost-task stall, so a retry waiting is never taken for lost; about three hours in all.
    retry_backoff_max=600,
    retry_jitter=True,
    max_retries=24,
    soft_time_limit=20,
    time_limit=30,
)
def tell_firm_consent_ended(consent_id: int) -> bool:
    consent = Consent.objects.select_related("client", "firm", "resident").filter(pk=consent_id).first()
    if consent is None or consent.firm_told_at is not None:
        return True
    return callbacks.consent_ended_send(consent)


@shared_task(name="consents.expire", acks_late=True)
def expire() -> int:
    return services.consents_expire()


@shared_task(name="consents.end_for_controller_change", acks_late=True, reject_on_worker_lost=True)
def end_for_controller_change(firm_id: int, new_legal_name: str, change_id: int | None = None) -> int:
    # change_id is None only in a message queued before it was added: then every active consent ends.
    return services.consents_end_for_controller_change(
        firm_id=firm_id, new_legal_name=new_legal_name, change_id=change_id
    )
