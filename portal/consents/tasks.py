"""Celery tasks of the consent API: thin wrappers around services, arguments as ids."""

from celery import shared_task

from portal.consents import callbacks, services
from portal.consents.models import Consent


@shared_task(
    name="consents.tell_firm_consent_ended",
    acks_late=True,
    reject_on_worker_lost=True,
    autoretry_for=(callbacks.FirmUnreachable,),
    retry_backoff=5,
    retry_backoff_max=3600,
    retry_jitter=True,
    max_retries=12,
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
def end_for_controller_change(firm_id: int, new_legal_name: str) -> int:
    return services.consents_end_for_controller_change(firm_id=firm_id, new_legal_name=new_legal_name)
