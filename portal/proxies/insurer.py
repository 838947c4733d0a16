"""医療保険者への代理人の登録: telling the medical insurer which proxies it may answer, and taking it back.

The medical insurer answers a proxy's request for medical data only under a registration it holds
(docs/agency-api.md, "Registered proxies"). A grant with the medical scope gets one registration when it
becomes active (an appointed proxy once the principal signed, a parent, a guardian once staff approved);
when the grant ends, however it ends, the registration is withdrawn. Both messages go from Celery tasks
after the commit, each with its own Idempotency-Key, retried while the insurer is unavailable; the
lost-task sweep (portal.core.lost_tasks) sends again whatever a lost task left on its way. What a message
tells the insurer is recorded in the access histories before it is first sent (SPEC 2.3).

Never send a My Number or an id another agency also gets: the insurer knows the principal and the proxy
by its own codes for them, and the registration by an id made for it alone.
"""

import logging
from collections.abc import Iterable
from datetime import datetime
from functools import partial
from typing import Any

from django.db import transaction
from django.db.models import F, Q, QuerySet
from django.utils import timezone

from portal.agencies.client import AgencyError, AgencyUnavailable, agency_post
from portal.agencies.codes import AgencyInfo, agency_code
from portal.core.lost_tasks import SENT_AGAIN
from portal.history.models import Channel
from portal.history.services import Actor, release_record
from portal.myinfo.services import MEDICAL_CATEGORIES, agency_for_category
from portal.proxies.models import (
    EndedBy,
    GrantState,
    InsurerRegistration,
    InsurerRegistrationState,
    ProxyGrant,
)
from portal.proxies.scopes import MEDICAL_SCOPE

logger = logging.getLogger(__name__)

#: Why the authority ended, as the withdrawal tells the insurer.
WITHDRAWAL_REASONS = {
    EndedBy.PRINCIPAL: "ended_by_principal",
    EndedBy.PROXY: "ended_by_proxy",
    EndedBy.STAFF: "ended_by_staff",
    EndedBy.EXPIRY: "expired",
}
#: Withdrawal errors worth sending again by the sweep; any other refusal waits for staff (admin).
_RESENDABLE_ERRORS = ("", "unavailable")


def medical_insurer() -> AgencyInfo:
    """The agency that serves the medical categories, and so keeps the registered proxies."""
    return agency_for_category(min(MEDICAL_CATEGORIES))


def _needs_registration(grant: ProxyGrant) -> bool:
    return grant.state == GrantState.ACTIVE and MEDICAL_SCOPE in grant.scopes


def insurer_registration_open(*, grant: ProxyGrant) -> InsurerRegistration | None:
    """Called in the transaction that made ``grant`` active: its registration, sent after the commit.

    None for a grant without the medical scope (the insurer need not know that proxy). Opening twice
    changes nothing.
    """
    if not _needs_registration(grant):
        return None
    registration, created = InsurerRegistration.objects.get_or_create(
        grant=grant, defaults={"agency_id": medical_insurer().id}
    )
    if created:
        transaction.on_commit(partial(_queue, "register", registration.pk), robust=True)
    return registration


def insurer_registration_for_fetch(*, grant: ProxyGrant) -> str:
    """The registration id a proxy's request for medical data names: the one the insurer was sent.

    A grant that has none (made before registrations existed, and not yet reached by the migration's
    rows) gets one now; until the insurer has it, the insurer refuses, and the page says so.
    """
    registration = InsurerRegistration.objects.filter(grant=grant).only("public_id").first()
    if registration is None:
        with transaction.atomic():
            current = ProxyGrant.objects.select_for_update().get(pk=grant.pk)
            registration = insurer_registration_open(grant=current)
        if registration is None:
            return ""
    return str(registration.public_id)


def insurer_registrations_withdraw(*, grant_ids: Iterable[int]) -> int:
    """Called in the transaction that ended the grants: their registrations are withdrawn after the commit.

    Every registration not yet withdrawn, also one still being made or one that failed: the insurer keeps
    a withdrawal of an id it has not seen, so a registration that arrives late is refused there.
    """
    ids = list(
        InsurerRegistration.objects.select_for_update()
        .filter(grant_id__in=list(grant_ids))
        .exclude(state__in=(InsurerRegistrationState.WITHDRAWING, InsurerRegistrationState.WITHDRAWN))
        .values_list("pk", flat=True)
    )
    if not ids:
        return 0
    InsurerRegistration.objects.filter(pk__in=ids).update(
        state=InsurerRegistrationState.WITHDRAWING, withdrawal_asked_at=timezone.now(), last_error=""
    )
    for registration_id in ids:
        transaction.on_commit(partial(_queue, "withdraw", registration_id), robust=True)
    return len(ids)


def _queue(step: str, registration_id: int) -> None:
    from portal.proxies.tasks import register_with_insurer, withdraw_from_insurer

    task = register_with_insurer if step == "register" else withdraw_from_insurer
    task.delay(registration_id)


# --- the messages (task bodies) ----------------------------------------------------------------------------


def _loaded(registration_id: int) -> InsurerRegistration | None:
    return (
        InsurerRegistration.objects.select_related("grant__principal", "grant__proxy")
        .filter(pk=registration_id)
        .first()
    )


def _attempt(registration: InsurerRegistration) -> None:
    InsurerRegistration.objects.filter(pk=registration.pk).update(
        attempts=F("attempts") + 1, last_attempt_at=timezone.now()
    )


def _settle(registration: InsurerRegistration, *, expected: str, **changes: Any) -> str:
    """Applies an outcome unless the registration moved on meanwhile (a grant ended while registering:
    the withdrawal that follows speaks for it); returns the state it is in now."""
    InsurerRegistration.objects.filter(pk=registration.pk, state=expected).update(**changes)
    return InsurerRegistration.objects.filter(pk=registration.pk).values_list("state", flat=True).get()


def _recorded_once(
    registration: InsurerRegistration,
    agency: AgencyInfo,
    *,
    logged_field: str,
    releases: tuple[dict[str, Any], ...],
) -> None:
    """What a message tells the insurer, recorded in the residents' histories before it is first sent (SPEC
    2.3), and only then: `logged_field` keeps a retried or resent message from recording it twice."""
    if getattr(registration, logged_field) is not None:
        return
    actor = Actor.for_agency(agency.id, agency.name_ja)
    for release in releases:
        release_record(actor=actor, channel=Channel.AGENCY_API, **release)
    setattr(registration, logged_field, timezone.now())
    registration.save(update_fields=[logged_field])


def insurer_registration_send(*, registration_id: int) -> str:
    """Registers the proxy with the insurer; returns the registration's state after it.

    Safe to run twice: only a registration still being made is sent, always with its own id as
    Idempotency-Key and ``registration_id``, so the insurer keeps one. Raises AgencyUnavailable for the
    task to retry; a refusal is final (``failed``, with the insurer's reason, for staff and residents).
    """
    registration = _loaded(registration_id)
    if registration is None:
        return "gone"
    if registration.state != InsurerRegistrationState.REGISTERING:
        return registration.state
    grant = registration.grant
    agency = medical_insurer()
    # The insurer learns that the principal has this proxy, and the proxy's name and code there.
    _recorded_once(
        registration,
        agency,
        logged_field="registration_logged_at",
        releases=(
            {
                "owner": grant.principal,
                "category": "proxies",
                "items": ["proxy_name", "proxy_agency_code", "relationship", "valid_until"],
                "purpose": "proxy_registration",
            },
            {
                "owner": grant.proxy,
                "category": "identity",
                "items": ["name", "agency_code"],
                "purpose": "proxy_registration_as_proxy",
            },
        ),
    )
    _attempt(registration)
    principal_code = agency_code(my_number=grant.principal.my_number, agency_id=agency.id)
    try:
        answer = agency_post(
            agency_id=agency.id,
            path=f"residents/{principal_code}/proxy-registrations",
            body={
                "registration_id": str(registration.public_id),
                "proxy": {
                    "agency_code": agency_code(my_number=grant.proxy.my_number, agency_id=agency.id),
                    "name": grant.proxy.name,
                },
                "relationship": grant.kind,
                "valid_until": grant.ends_on.isoformat(),
            },
            idempotency_key=str(registration.public_id),
        )
        if answer.get("registration_id") != str(registration.public_id) or answer.get("status") != "active":
            raise AgencyError(
                f"{agency.id}: registration answer not about this registration", code="malformed"
            )
    except AgencyUnavailable as exc:
        InsurerRegistration.objects.filter(pk=registration.pk).update(last_error=exc.code)
        raise
    except AgencyError as exc:
        logger.warning("proxy registration %s refused by %s: %s", registration.pk, agency.id, exc)
        return _settle(
            registration,
            expected=InsurerRegistrationState.REGISTERING,
            state=InsurerRegistrationState.FAILED,
            last_error=exc.agency_error or exc.code,
        )
    return _settle(
        registration,
        expected=InsurerRegistrationState.REGISTERING,
        state=InsurerRegistrationState.REGISTERED,
        registered_at=timezone.now(),
        last_error="",
    )


def insurer_registration_gave_up(*, registration_id: int) -> None:
    """The insurer stayed unavailable through every retry: the registration failed for now (the sweep sends
    it again later; meanwhile the insurer refuses the proxy's requests, and the pages say so)."""
    InsurerRegistration.objects.filter(pk=registration_id, state=InsurerRegistrationState.REGISTERING).update(
        state=InsurerRegistrationState.FAILED, last_error="unavailable"
    )


def insurer_withdrawal_send(*, registration_id: int) -> str:
    """Withdraws the registration at the insurer; returns the registration's state after it.

    Safe to run twice: only a registration being withdrawn is sent, with the same Idempotency-Key each
    time. Raises AgencyUnavailable for the task to retry; a refusal leaves it ``withdrawing`` with the
    insurer's reason for staff (the proxy can act for nobody meanwhile: the grant has ended).
    """
    registration = _loaded(registration_id)
    if registration is None:
        return "gone"
    if registration.state != InsurerRegistrationState.WITHDRAWING:
        return registration.state
    grant = registration.grant
    agency = medical_insurer()
    _recorded_once(
        registration,
        agency,
        logged_field="withdrawal_logged_at",
        releases=(
            {
                "owner": grant.principal,
                "category": "proxies",
                "items": ["registration_id", "reason"],
                "purpose": "proxy_withdrawal",
            },
        ),
    )
    _attempt(registration)
    principal_code = agency_code(my_number=grant.principal.my_number, agency_id=agency.id)
    try:
        answer = agency_post(
            agency_id=agency.id,
            path=f"residents/{principal_code}/proxy-registrations/{registration.public_id}/withdrawal",
            body={"reason": WITHDRAWAL_REASONS.get(grant.ended_by, "ended")},
            idempotency_key=f"{registration.public_id}:withdrawal",
        )
        if (
            answer.get("registration_id") != str(registration.public_id)
            or answer.get("status") != "withdrawn"
        ):
            raise AgencyError(f"{agency.id}: withdrawal answer not about this registration", code="malformed")
    except AgencyError as exc:
        # Unavailable or refused, it stays to be withdrawn: retried by the task, or sent again by the sweep
        # (unavailable) or by staff (a refusal).
        InsurerRegistration.objects.filter(pk=registration.pk).update(last_error=exc.agency_error or exc.code)
        if isinstance(exc, AgencyUnavailable):
            raise
        logger.warning("proxy withdrawal %s refused by %s: %s", registration.pk, agency.id, exc)
        return InsurerRegistrationState.WITHDRAWING
    return _settle(
        registration,
        expected=InsurerRegistrationState.WITHDRAWING,
        state=InsurerRegistrationState.WITHDRAWN,
        withdrawn_at=timezone.now(),
        last_error="",
    )


def insurer_registrations_owed(*, cutoff: datetime, now: datetime) -> QuerySet[InsurerRegistration]:
    """Registrations still on their way with no attempt (nor resend) since ``cutoff`` (a lost task), and
    those that failed only because the insurer was unavailable; only while the grant may still act."""
    quiet = Q(last_attempt_at__lte=cutoff)
    return InsurerRegistration.objects.filter(
        (Q(state=InsurerRegistrationState.REGISTERING) & (quiet | Q(last_attempt_at__isnull=True)))
        | (Q(state=InsurerRegistrationState.FAILED, last_error="unavailable") & quiet),
        Q(resent_at__isnull=True) | Q(resent_at__lte=cutoff),
        created_at__lte=cutoff,
        grant__state=GrantState.ACTIVE,
        grant__ends_on__gte=timezone.localdate(),
    ).order_by("created_at")


def insurer_registration_resend(registration: InsurerRegistration, *, now: datetime) -> str:
    """Sends a lost (or unavailable) registration again; the task checks the state first and sends the
    same Idempotency-Key, so a copy that turns up late does no harm."""
    registration.state = InsurerRegistrationState.REGISTERING
    registration.last_error = ""
    registration.resent_at = now
    registration.save(update_fields=["state", "last_error", "resent_at"])
    _queue("register", registration.pk)
    return SENT_AGAIN


def insurer_withdrawals_owed(*, cutoff: datetime, now: datetime) -> QuerySet[InsurerRegistration]:
    """Withdrawals asked for, not tried (nor resent) since ``cutoff``; one the insurer refused waits for
    staff."""
    return InsurerRegistration.objects.filter(
        Q(last_attempt_at__isnull=True) | Q(last_attempt_at__lte=cutoff),
        Q(resent_at__isnull=True) | Q(resent_at__lte=cutoff),
        state=InsurerRegistrationState.WITHDRAWING,
        withdrawal_asked_at__lte=cutoff,
        last_error__in=_RESENDABLE_ERRORS,
    ).order_by("withdrawal_asked_at")


def insurer_withdrawal_resend(registration: InsurerRegistration, *, now: datetime) -> str:
    InsurerRegistration.objects.filter(pk=registration.pk).update(resent_at=now)
    _queue("withdraw", registration.pk)
    return SENT_AGAIN


def insurer_registration_send_again(*, registration_id: int) -> str:
    """Staff send a failed registration (its grant still active) or a refused withdrawal again."""
    with transaction.atomic():
        registration = (
            InsurerRegistration.objects.select_for_update()
            .select_related("grant")
            .filter(pk=registration_id)
            .first()
        )
        if registration is None:
            return "gone"
        if registration.state == InsurerRegistrationState.FAILED and _needs_registration(registration.grant):
            registration.state = InsurerRegistrationState.REGISTERING
            registration.last_error = ""
            registration.save(update_fields=["state", "last_error"])
            transaction.on_commit(partial(_queue, "register", registration.pk), robust=True)
        elif registration.state == InsurerRegistrationState.WITHDRAWING:
            transaction.on_commit(partial(_queue, "withdraw", registration.pk), robust=True)
        return registration.state
