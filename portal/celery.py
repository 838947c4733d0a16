"""The Celery app. Queue names live here as constants so that every queue has a named consumer."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")

QUEUE_DEFAULT = "default"
QUEUE_FETCH = "fetch"
QUEUES = (QUEUE_DEFAULT, QUEUE_FETCH)

app = Celery("portal")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.conf.task_default_queue = QUEUE_DEFAULT
app.conf.task_routes = {
    "provision.*": {"queue": QUEUE_FETCH},
    "myinfo.fetch_category": {"queue": QUEUE_FETCH},
    "myinfo.report_mislink": {"queue": QUEUE_FETCH},
    "account.check_with_bank": {"queue": QUEUE_FETCH},
    "proxies.register_with_insurer": {"queue": QUEUE_FETCH},
    "proxies.withdraw_from_insurer": {"queue": QUEUE_FETCH},
}
app.autodiscover_tasks()
