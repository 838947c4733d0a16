"""Celery tasks of the access history: thin wrappers around services."""

from celery import shared_task

from portal.history import services


@shared_task(name="history.ensure_partitions", soft_time_limit=50, time_limit=60)
def ensure_partitions() -> list[str]:
    return services.partitions_ensure_ahead()
