"""Celery tasks of the identity app: thin wrappers around services."""

from celery import shared_task

from portal.identity import jpki, services


@shared_task(
    name="identity.refresh_crl",
    autoretry_for=(OSError,),
    retry_backoff=True,
    retry_jitter=True,
    max_retries=5,
    soft_time_limit=50,
    time_limit=60,
)
def refresh_crl() -> str:
    crl = jpki.crl_refresh()
    services.card_revocations_record(crl=crl)
    return crl.next_update_utc.isoformat() if crl.next_update_utc else ""


@shared_task(name="identity.purge_signing_requests", time_limit=300)
def purge_signing_requests() -> int:
    return services.purge_signing_requests()
