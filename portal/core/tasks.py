"""Celery tasks of the core: thin wrappers around its services."""

from celery import shared_task
from django.utils import timezone

from portal.core.lost_tasks import lost_tasks_recover


@shared_task(name="core.recover_lost_tasks", soft_time_limit=50, time_limit=60)
def recover_lost_tasks() -> dict[str, dict[str, int]]:
    """Owed work whose task the broker lost, sent again or given up; on the beat every minute."""
    return lost_tasks_recover(now=timezone.now())
