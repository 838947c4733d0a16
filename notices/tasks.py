"""Celery tasks of the notice inbox (default queue): telling recipients, and webhook deliveries.

Thin and safe to run twice: a delivered or dead-lettered delivery is left alone (the agency dedupes a
repeated event by its id), and a repeated announcement tells nobody twice (portal.notify dedupes by key).
"""

from celery import shared_task

from notices import reminders, services


@shared_task(
    name="notices.announce_notice",
    acks_late=True,
    reject_on_worker_lost=True,
    soft_time_limit=3000,
    time_limit=3600,
)
def announce_notice(notice_id: int) -> int:
    """Tells the recipients that a notice arrived (portal.notify decides how); how many were told."""
    return services.notice_announce(notice_id=notice_id)


@shared_task(
    name="notices.deliver_webhook",
    acks_late=True,
    reject_on_worker_lost=True,
    soft_time_limit=45,
    time_limit=60,
)
def deliver_webhook(delivery_id: int) -> str:
    """One attempt. A failure leaves the delivery "retrying" until its back-off ends; the lost-task sweep
    (kind notices.webhook) queues it then, and the service dead-letters it after the last attempt."""
    return services.webhook_attempt(delivery_id=delivery_id).state


@shared_task(name="notices.send_reminders", soft_time_limit=3000, time_limit=3600)
def send_reminders() -> int:
    """Daily: residents who have not answered hear that a deadline is near (business days before it)."""
    return reminders.notice_reminders_send()
