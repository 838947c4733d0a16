"""The owed work of "my information" that a lost task would leave undone (portal.core.lost_tasks)."""

from datetime import datetime

from django.db.models import Q, QuerySet
from django.db.models.functions import Coalesce

from portal.agencies.client import AgencyUnavailable
from portal.core.lost_tasks import SENT_AGAIN, LostTaskKind, lost_task_kind
from portal.myinfo.models import Quarantine
from portal.myinfo.services import myinfo_fetch_send_again, myinfo_fetches_owed

lost_task_kind(
    LostTaskKind(
        name="myinfo.fetch",
        owed=myinfo_fetches_owed,
        send_again=myinfo_fetch_send_again,
        tasks=("myinfo.fetch_category",),
    )
)


def mislink_reports_owed(*, cutoff: datetime, now: datetime) -> QuerySet[Quarantine]:
    """Mis-link reports the agency has not taken, not tried since ``cutoff``: never sent (the fetch's
    task died after the quarantine), lost on the way, or given up while the agency was unavailable. A
    refusal waits for staff (the admin sends it again)."""
    return (
        Quarantine.objects.annotate(last_sign=Coalesce("report_tried_at", "detected_at"))
        .filter(Q(report_error="") | Q(report_error=AgencyUnavailable.code), report_id="")
        .filter(last_sign__lte=cutoff)
        .defer("payload")  # never decrypted here
        .order_by("detected_at")
    )


def mislink_report_send_again(quarantine: Quarantine, *, now: datetime) -> str:
    from portal.myinfo.tasks import report_mislink  # the task module imports the services

    Quarantine.objects.filter(pk=quarantine.pk).update(report_tried_at=now)
    report_mislink.apply_async(kwargs={"quarantine_id": quarantine.pk})
    return SENT_AGAIN


lost_task_kind(
    LostTaskKind(
        name="myinfo.mislink_report",
        owed=mislink_reports_owed,
        send_again=mislink_report_send_again,
        tasks=("myinfo.report_mislink",),
    )
)
