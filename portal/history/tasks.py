"""Celery tasks of the access history: thin wrappers around services."""

from celery import shared_task

from portal.history import roots, services


@shared_task(name="history.ensure_partitions", soft_time_limit=50, time_limit=60)
def ensure_partitions() -> list[str]:
    return services.partitions_ensure_ahead()


@shared_task(name="history.publish_daily_root", soft_time_limit=540, time_limit=600)
def publish_daily_root() -> dict[str, object]:
    """Publishes yesterday's root (Asia/Tokyo) and any missed before it; later runs find them made."""
    published = roots.daily_roots_publish_due()
    yesterday = published[-1]
    return {
        "day": yesterday.day.isoformat(),
        "root_hash": yesterday.root_hash,
        "late": [root.day.isoformat() for root in published[:-1]],
    }
