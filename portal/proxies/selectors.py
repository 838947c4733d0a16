"""Reads of proxy grants for /proxies/: what a resident has given and what they hold."""

from django.db.models import QuerySet
from django.utils import timezone

from portal.identity.models import Resident
from portal.proxies.models import GrantState, GuardianApplication, ProxyGrant


def grants_given(*, principal: Resident) -> QuerySet[ProxyGrant]:
    return (
        ProxyGrant.objects.filter(principal=principal)
        .exclude(state=GrantState.ENDED)
        .select_related("proxy", "insurer_registration")
        .order_by("-created_at")
    )


def grants_held(*, proxy: Resident) -> QuerySet[ProxyGrant]:
    return (
        ProxyGrant.objects.filter(
            proxy=proxy, state=GrantState.ACTIVE, review_required=False, ends_on__gte=timezone.localdate()
        )
        .select_related("principal", "insurer_registration")
        .order_by("principal__name")
    )


def grant_of_principal(*, principal: Resident, public_id: str) -> ProxyGrant | None:
    return ProxyGrant.objects.filter(principal=principal, public_id=public_id).select_related("proxy").first()


def guardian_applications(*, guardian: Resident) -> QuerySet[GuardianApplication]:
    return GuardianApplication.objects.filter(guardian=guardian).order_by("-submitted_at")
