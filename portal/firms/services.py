"""Firms' applications and staff decisions: the only writer of Firm, FirmPurpose, FirmClient and
ControllerChange.

An application is checked whole (portal.firms.validation) before anything is written. Every decision is a
FirmEvent, told to the firm by e-mail after the commit. Suspension and a change of controller reach the
consent side through portal.firms.signals, also after the commit; this module never touches a consent.
"""

import datetime as dt
import secrets
from functools import partial

from django.db import transaction
from django.db.models import Q, QuerySet
from django.dispatch import Signal
from django.utils import timezone

from portal.consents.models import Consent, ConsentState
from portal.core.crypto import lookup_hash
from portal.core.errors import PortalError
from portal.core.lost_tasks import SENT_AGAIN
from portal.firms import signals
from portal.firms.models import (
    ClientEnvironment,
    ControllerChange,
    Firm,
    FirmClient,
    FirmEvent,
    FirmEventKind,
    FirmPurpose,
    FirmState,
)
from portal.firms.validation import (
    ApplicationInput,
    Problems,
    application_clean,
    corporate_number_clean,
    jwks_clean,
    redirect_uris_clean,
    text_clean,
)
from portal.identity.models import User
from portal.notify.mail import MailRefused

MANAGE_TOKEN_PURPOSE = "firm-manage"  # noqa: S105 -- the keyed hash's purpose, not a secret
MAX_REASON_CHARS = 400
# An application is refused while another with the same corporate number waits or is in use.
OPEN_STATES = (FirmState.APPLIED, FirmState.APPROVED, FirmState.SUSPENDED)


def manage_token_hash(token: str) -> str:
    return lookup_hash(token, purpose=MANAGE_TOKEN_PURPOSE)


def _event(firm: Firm, kind: str, *, staff: User | None = None, reason: str = "") -> FirmEvent:
    from portal.firms.tasks import send_event_mail

    event = FirmEvent.objects.create(firm=firm, kind=kind, staff=staff, reason=reason)
    transaction.on_commit(partial(send_event_mail.delay, event.pk))
    return event


def _refused(code: str, message_ja: str, message_en: str, status: int = 409) -> PortalError:
    return PortalError(code=code, message_ja=message_ja, message_en=message_en, status=status)


# --- the firm's side ----------------------------------------------------------------------------------------


@transaction.atomic
def firm_apply(*, application: ApplicationInput) -> tuple[Firm, str]:
    """The stored application and the secret of its manage link (shown once; only its keyed hash is kept).

    Raises FirmInputInvalid with every problem found; nothing is written then."""
    problems = Problems()
    clean = application_clean(problems, application)
    if (
        clean.corporate_number
        and not any(p.field == "corporate_number" for p in problems.items)
        and Firm.objects.filter(corporate_number=clean.corporate_number, state__in=OPEN_STATES).exists()
    ):
        problems.add(
            "corporate_number",
            "この法人番号の申請は、すでに審査中か承認済みです。変更はその申請の管理ページから、"
            "わからないときはポータルの窓口にお問い合わせください。",
            "An application with this corporate number is already under review or approved; change it "
            "from that application's page, or contact the portal if you cannot.",
        )
    problems.raise_if_any()
    token = secrets.token_urlsafe(32)
    firm = Firm.objects.create(
        legal_name=clean.legal_name,
        legal_name_en=clean.legal_name_en,
        corporate_number=clean.corporate_number,
        address=clean.address,
        contact_name=clean.contact_name,
        contact_email=clean.contact_email,
        contact_phone=clean.contact_phone,
        privacy_policy_url=clean.privacy_policy_url,
        retention_days=clean.retention_days,
        redirect_uris=clean.redirect_uris,
        jwks=clean.jwks,
        callback_url=clean.callback_url,
        manage_token_hash=manage_token_hash(token),
    )
    FirmPurpose.objects.bulk_create(
        FirmPurpose(
            firm=firm,
            code=purpose.code,
            description_ja=purpose.description_ja,
            description_en=purpose.description_en,
            scopes=purpose.scopes,
            access_kind=purpose.access_kind,
            interval_days=purpose.interval_days,
            access_days=purpose.access_days,
        )
        for purpose in clean.purposes
    )
    _event(firm, FirmEventKind.APPLIED)
    return firm, token


def _editable(firm_id: int) -> Firm:
    firm = Firm.objects.select_for_update().get(pk=firm_id)
    if firm.state == FirmState.REJECTED:
        raise _refused(
            "firm_rejected",
            "承認されなかった申請は変更できません。新しく申請してください。",
            "An application that was not approved cannot be changed; please apply again.",
        )
    return firm


def _registration_replace(firm_id: int, *, field_name: str, value: object, kind: str) -> Firm:
    """The firm's own change to what its clients are registered with: the firm and each of its clients at
    once, so that no client keeps the old value; nothing is written or told when it is unchanged."""
    firm = _editable(firm_id)
    if value != getattr(firm, field_name):
        setattr(firm, field_name, value)
        firm.save(update_fields=[field_name])
        firm.clients.update(**{field_name: value})
        _event(firm, kind)
    return firm


@transaction.atomic
def firm_redirect_uris_update(*, firm_id: int, redirect_uris: str) -> Firm:
    """Replaces the redirect URIs of the firm and of each of its clients (raises FirmInputInvalid)."""
    problems = Problems()
    uris = redirect_uris_clean(problems, "redirect_uris", redirect_uris)
    problems.raise_if_any()
    return _registration_replace(
        firm_id, field_name="redirect_uris", value=uris, kind=FirmEventKind.REDIRECT_URIS_CHANGED
    )


@transaction.atomic
def firm_jwks_update(*, firm_id: int, jwks: str) -> Firm:
    """Key rotation: the new public JWKS replaces the old one on the firm and each of its clients at once
    (publish the new key beside the old one first, then drop the old one)."""
    problems = Problems()
    keys = jwks_clean(problems, "jwks", jwks)
    problems.raise_if_any()
    return _registration_replace(firm_id, field_name="jwks", value=keys, kind=FirmEventKind.JWKS_CHANGED)


# --- staff decisions ----------------------------------------------------------------------------------------


def _locked(firm_id: int, *, states: tuple[str, ...], refusal_ja: str, refusal_en: str) -> Firm:
    firm = Firm.objects.select_for_update().get(pk=firm_id)
    if firm.state not in states:
        raise _refused("firm_wrong_state", refusal_ja, refusal_en)
    return firm


def _reason(reason: str, *, what_ja: str, what_en: str) -> str:
    text = (reason or "").strip()
    if not text:
        raise _refused(
            "reason_required", f"{what_ja}理由を入力してください。", f"Enter the reason {what_en}.", 400
        )
    if len(text) > MAX_REASON_CHARS:
        raise _refused(
            "reason_too_long",
            f"理由は{MAX_REASON_CHARS}文字以内で入力してください。",
            f"The reason must be at most {MAX_REASON_CHARS} characters.",
            400,
        )
    return text


def _client_create(firm: Firm, environment: str, client_id: str | None = None) -> FirmClient:
    return FirmClient.objects.create(
        firm=firm,
        environment=environment,
        client_id=client_id or secrets.token_urlsafe(24),
        redirect_uris=firm.redirect_uris,
        jwks=firm.jwks,
        callback_url=firm.callback_url,
    )


def _decided(
    firm_id: int,
    *,
    states: tuple[str, ...],
    refusal_ja: str,
    refusal_en: str,
    changes: dict[str, object],
    kind: str,
    staff: User,
    reason: str = "",
    signal: Signal | None = None,
) -> Firm:
    """One staff decision on the firm: locked and refused unless in one of `states`, `changes` saved, the
    FirmEvent recorded (mailed after the commit), and `signal` sent to the consent side after the commit,
    so that a rolled-back decision reaches neither the firm nor its consents."""
    firm = _locked(firm_id, states=states, refusal_ja=refusal_ja, refusal_en=refusal_en)
    for name, value in changes.items():
        setattr(firm, name, value)
    firm.save(update_fields=list(changes))
    _event(firm, kind, staff=staff, reason=reason)
    if signal is not None:
        transaction.on_commit(partial(signal.send, sender=Firm, firm=firm))
    return firm


@transaction.atomic
def firm_approve(*, firm_id: int, staff: User, sandbox_client_id: str | None = None) -> FirmClient:
    """The application is approved: the firm gets its sandbox client (demo residents only)."""
    firm = _decided(
        firm_id,
        states=(FirmState.APPLIED,),
        refusal_ja="審査中の申請だけを承認できます。",
        refusal_en="Only an application under review can be approved.",
        changes={
            "state": FirmState.APPROVED,
            "reviewed_at": timezone.now(),
            "reviewed_by": staff,
            "decision_reason": "",
        },
        kind=FirmEventKind.APPROVED,
        staff=staff,
    )
    return _client_create(firm, ClientEnvironment.SANDBOX, sandbox_client_id)


@transaction.atomic
def firm_reject(*, firm_id: int, staff: User, reason: str) -> Firm:
    text = _reason(reason, what_ja="承認しない", what_en="for not approving")
    return _decided(
        firm_id,
        states=(FirmState.APPLIED,),
        refusal_ja="審査中の申請だけを不承認にできます。承認済みの事業者は停止してください。",
        refusal_en="Only an application under review can be rejected; suspend an approved firm instead.",
        changes={
            "state": FirmState.REJECTED,
            "reviewed_at": timezone.now(),
            "reviewed_by": staff,
            "decision_reason": text,
        },
        kind=FirmEventKind.REJECTED,
        staff=staff,
        reason=text,
    )


@transaction.atomic
def firm_production_allow(
    *, firm_id: int, staff: User, production_client_id: str | None = None
) -> FirmClient:
    """The second decision, after the firm has run the sandbox: its production client."""
    firm = _locked(
        firm_id,
        states=(FirmState.APPROVED,),
        refusal_ja="承認済みで停止されていない事業者だけに本番環境を認められます。",
        refusal_en="Production can be allowed only to an approved firm that is not suspended.",
    )
    if firm.production_allowed:
        raise _refused(
            "production_already_allowed",
            "この事業者には、すでに本番環境を認めています。",
            "This firm is already allowed production.",
        )
    firm.production_allowed = True
    firm.save(update_fields=["production_allowed"])
    client = _client_create(firm, ClientEnvironment.PRODUCTION, production_client_id)
    _event(firm, FirmEventKind.PRODUCTION_ALLOWED, staff=staff)
    return client


@transaction.atomic
def firm_suspend(*, firm_id: int, staff: User, reason: str) -> Firm:
    """Stops the firm at once: signals.firm_suspended lets the consent side end its tokens."""
    text = _reason(reason, what_ja="停止の", what_en="for the suspension")
    return _decided(
        firm_id,
        states=(FirmState.APPROVED,),
        refusal_ja="承認済みの事業者だけを停止できます。",
        refusal_en="Only an approved firm can be suspended.",
        changes={"state": FirmState.SUSPENDED, "suspended_at": timezone.now(), "decision_reason": text},
        kind=FirmEventKind.SUSPENDED,
        staff=staff,
        reason=text,
        signal=signals.firm_suspended,
    )


@transaction.atomic
def firm_unsuspend(*, firm_id: int, staff: User) -> Firm:
    return _decided(
        firm_id,
        states=(FirmState.SUSPENDED,),
        refusal_ja="停止中の事業者だけを再開できます。",
        refusal_en="Only a suspended firm can be resumed.",
        changes={"state": FirmState.APPROVED, "suspended_at": None, "decision_reason": ""},
        kind=FirmEventKind.UNSUSPENDED,
        staff=staff,
        signal=signals.firm_unsuspended,
    )


@transaction.atomic
def controller_change_record(
    *,
    firm_id: int,
    staff: User,
    new_legal_name: str,
    new_legal_name_en: str = "",
    new_corporate_number: str,
    reason: str,
    effective_on: dt.date | None,
) -> ControllerChange:
    """事業承継: the firm's registration passes to the new controller (name and corporate number); every
    consent given to the old one must be given again (signals.controller_changed, after the commit).

    Raises FirmInputInvalid (fields named as the admin form's) or a PortalError for the firm's state."""
    problems = Problems()
    name = text_clean(
        problems,
        "new_legal_name",
        new_legal_name,
        label_ja="新しい法人名",
        label_en="new legal name",
        max_length=200,
    )
    name_en = text_clean(
        problems,
        "new_legal_name_en",
        new_legal_name_en,
        label_ja="新しい法人名（英語）",
        label_en="new legal name in English",
        max_length=200,
        required=False,
    )
    number = corporate_number_clean(problems, "new_corporate_number", new_corporate_number)
    text = text_clean(
        problems, "reason", reason, label_ja="理由", label_en="reason", max_length=MAX_REASON_CHARS
    )
    if effective_on is None:
        problems.add(
            "effective_on", "効力発生日を入力してください。", "Enter the date the change took effect."
        )
    elif effective_on > timezone.localdate():
        problems.add(
            "effective_on",
            "効力発生日が未来です。変更が効力を生じてから記録してください。",
            "The date is in the future; record the change once it has taken effect.",
        )
    firm = _locked(
        firm_id,
        states=(FirmState.APPROVED, FirmState.SUSPENDED),
        refusal_ja="承認済み（または停止中）の事業者だけに事業者の変更を記録できます。",
        refusal_en="A change of controller can be recorded only for an approved (or suspended) firm.",
    )
    if number == firm.corporate_number:
        problems.add(
            "new_corporate_number",
            "新しい法人番号が現在と同じです。名称だけの変更は事業者の変更ではありません。",
            "The new corporate number is the current one; a change of name alone is not a change of "
            "controller.",
        )
    problems.raise_if_any()
    now = timezone.now()
    affected = Consent.objects.filter(firm=firm, state=ConsentState.ACTIVE, expires_at__gt=now).count()
    change = ControllerChange.objects.create(
        firm=firm,
        previous_legal_name=firm.legal_name,
        previous_legal_name_en=firm.legal_name_en,
        previous_corporate_number=firm.corporate_number,
        new_legal_name=name,
        new_legal_name_en=name_en,
        new_corporate_number=number,
        reason=text,
        effective_on=effective_on,
        recorded_by=staff,
        consents_affected=affected,
    )
    firm.legal_name = name
    firm.legal_name_en = name_en
    firm.corporate_number = number
    firm.save(update_fields=["legal_name", "legal_name_en", "corporate_number"])
    _event(firm, FirmEventKind.CONTROLLER_CHANGED, staff=staff, reason=text)
    transaction.on_commit(partial(signals.controller_changed.send, sender=Firm, firm=firm, change=change))
    return change


# --- telling the firm ---------------------------------------------------------------------------------------


def event_mail_send(*, event_id: int) -> str:
    """One try to mail the event to the firm; MailRetryable propagates (the task retries it).

    The event's row is locked while the mail goes out, so two copies of the task (a retry and the lost-task
    sweep's resend) send one mail: the second finds it sent. A worker dying between the mail server's
    answer and the commit may still send it twice (a mail cannot carry an idempotency key).
    """
    from portal.firms import mail

    with transaction.atomic():
        event = (
            FirmEvent.objects.select_for_update(of=("self",))
            .select_related("firm")
            .filter(pk=event_id)
            .first()
        )
        if event is None:
            return "gone"
        if event.mailed_at is not None:
            return "already_sent"
        FirmEvent.objects.filter(pk=event.pk).update(mail_tried_at=timezone.now())
        try:
            mail.event_mail_send(event)
        except MailRefused as refused:
            FirmEvent.objects.filter(pk=event.pk, mailed_at__isnull=True).update(
                mail_failed_at=timezone.now(), mail_error=refused.code[:40]
            )
            return "refused"
        FirmEvent.objects.filter(pk=event.pk).update(
            mailed_at=timezone.now(), mail_failed_at=None, mail_error=""
        )
    return "sent"


def event_mails_owed(*, cutoff: dt.datetime, now: dt.datetime) -> QuerySet[FirmEvent]:
    """Events neither mailed nor failed for good, with no try (nor resend) since ``cutoff``: lost."""
    return (
        FirmEvent.objects.filter(mailed_at__isnull=True, mail_failed_at__isnull=True, at__lte=cutoff)
        .filter(Q(mail_tried_at__isnull=True) | Q(mail_tried_at__lte=cutoff))
        .order_by("at")
    )


def event_mail_send_again(event: FirmEvent, *, now: dt.datetime) -> str:
    from portal.firms.tasks import send_event_mail

    FirmEvent.objects.filter(pk=event.pk).update(mail_tried_at=now)
    send_event_mail.delay(event.pk)
    return SENT_AGAIN


def event_mail_gave_up(*, event_id: int, error: str) -> None:
    FirmEvent.objects.filter(pk=event_id, mailed_at__isnull=True).update(
        mail_failed_at=timezone.now(), mail_error=error[:40]
    )
