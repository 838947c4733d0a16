"""Celery tasks of the access history: thin wrappers around services."""

import datetime as dt

from celery import shared_task
from django.utils import timezone

from portal.history import roots, services


@shared_task(name="history.ensure_partitions", soft_time_limit=50, time_limit=60)
def ensure_partitions() -> list[str]:
    return services.partitions_ensure_ahead()


@shared_task(name="history.publish_daily_root", soft_time_limit=540, time_limit=600)
def publish_daily_root() -> dict[str, str]:
    """Publishes yesterday's root (Asia/Tokyo); a second run the same day returns the root already made."""
    yesterday = timezone.localdate(timezone=roots.JST) - dt.timedelta(days=1)
    root = roots.daily_root_publish(day=yesterday)
    return {"day": root.day.isoformat(), "root_hash": root.root_hash}
