"""Celery tasks of the proxies app: thin wrappers around services."""

from celery import shared_task

from portal.proxies import services


@shared_task(name="proxies.end_expired", time_limit=300)
def end_expired() -> int:
    return services.grants_end_expired()
