"""Celery tasks of firms: telling a firm by e-mail of what happened to its application (default queue).

A mail is sent once: the event remembers when it went out, so a task delivered twice does nothing.
"""

from typing import Any

from celery import Task, shared_task

from portal.firms import services
from portal.notify.mail import MailRetryable


class EventMailTask(Task):
    def on_failure(self, exc: BaseException, task_id: str, args: Any, kwargs: Any, einfo: Any) -> None:
        # Retries ran out (or a fault of ours): staff see it on the firm's page in the admin.
        event_id = kwargs.get("event_id", args[0] if args else None)
        if event_id is not None:
            services.event_mail_gave_up(event_id=int(event_id), error=getattr(exc, "code", "failed"))


@shared_task(
    base=EventMailTask,
    name="firms.send_event_mail",
    acks_late=True,
    reject_on_worker_lost=True,
    autoretry_for=(MailRetryable,),
    retry_backoff=30,
    retry_backoff_max=600,  # below the lost-task stall, so a retry waiting is never taken for lost
    retry_jitter=True,
    max_retries=10,
    soft_time_limit=30,
    time_limit=45,
)
def send_event_mail(event_id: int) -> str:
    """sent, already_sent or refused."""
    return services.event_mail_send(event_id=event_id)
