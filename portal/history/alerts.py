"""Alerts: "someone read your data". Made by services.release_record; read and set here."""

import datetime as dt

from django.db import transaction

from portal.history.models import AlertPreference, ReleaseAlert
from portal.identity.models import Resident


def alert_preference_get(*, resident: Resident) -> AlertPreference:
    return AlertPreference.objects.filter(resident=resident).first() or AlertPreference(resident=resident)


def alert_preference_set(*, resident: Resident, on_firm_reads: bool, on_proxy_reads: bool) -> AlertPreference:
    preference, _ = AlertPreference.objects.update_or_create(
        resident=resident, defaults={"on_firm_reads": on_firm_reads, "on_proxy_reads": on_proxy_reads}
    )
    return preference


def unread_alert_count(*, resident: Resident, now: dt.datetime) -> int:
    return ReleaseAlert.objects.filter(resident=resident, read_at__isnull=True, visible_from__lte=now).count()


@transaction.atomic
def unread_alerts_take(*, resident: Resident, now: dt.datetime) -> list[ReleaseAlert]:
    """The alerts the resident has not seen yet (due ones only), marked read as they are shown."""
    alerts = list(
        ReleaseAlert.objects.select_for_update()
        .filter(resident=resident, read_at__isnull=True, visible_from__lte=now)
        .order_by("-occurred_at")[:20]
    )
    ReleaseAlert.objects.filter(pk__in=[a.pk for a in alerts]).update(read_at=now)
    return alerts
