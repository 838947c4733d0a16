"""Reads of the public-fund account: what the resident's page shows. Nothing here writes."""

from django.db.models import QuerySet

from portal.account.models import AccountApplication, AccountEvent, PublicFundAccount
from portal.identity.models import Resident

EVENTS_SHOWN = 50


def account_get(*, resident: Resident) -> PublicFundAccount | None:
    return PublicFundAccount.objects.filter(resident=resident).first()


def application_latest(*, resident: Resident) -> AccountApplication | None:
    """The newest application, whatever its state: the page says how the last request went."""
    return AccountApplication.objects.filter(resident=resident).order_by("-created_at", "-pk").first()


def application_get(*, resident: Resident, public_id: str) -> AccountApplication | None:
    return AccountApplication.objects.filter(resident=resident, public_id=public_id).first()


def account_event_list(*, resident: Resident) -> QuerySet[AccountEvent]:
    return AccountEvent.objects.filter(resident=resident).order_by("-at", "-pk")[:EVENTS_SHOWN]
