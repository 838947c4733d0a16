"""Consents and their credentials: pushing a request, granting, using, ending, telling the firm.

Credentials (codes, tokens, request handles) are random and kept only as keyed hashes. A token is good
only while its consent is active and unexpired, its firm approved and not suspended, and its client still
allowed in its environment; every use checks all of that again, so a revocation or a suspension stops the
next call.
"""

import datetime as dt
import secrets
from dataclasses import dataclass
from datetime import timedelta
from functools import partial
from typing import Any

from authlib.oauth2.rfc6749 import InvalidRequestError, InvalidScopeError
from django.conf import settings
from django.db import connection, transaction
from django.db.models import Q, QuerySet
from django.utils import timezone

from portal.consents import selectors
from portal.consents.models import (
    AuthorizationCode,
    Consent,
    ConsentState,
    IssuedToken,
    PullRecord,
    PushedAuthorization,
)
from portal.consents.scopes import (
    BASIC_CATEGORY,
    CATEGORY_SCOPES,
    DATA_SCOPES,
    MEDICAL_PERIODIC_MAX_DAYS,
    MEDICAL_SCOPES,
    OPENID,
    pulled_categories,
)
from portal.core.crypto import lookup_hash
from portal.core.errors import PortalError
from portal.core.lost_tasks import SENT_AGAIN
from portal.firms.models import (
    AccessKind,
    ClientEnvironment,
    ControllerChange,
    Firm,
    FirmClient,
    FirmPurpose,
    FirmState,
)
from portal.identity.models import Resident
from portal.identity.services import StepUpProof

REQUEST_URI_PREFIX = "urn:ietf:params:oauth:request_uri:"
GRANT_ACT = "consent.grant"
# Parameters a pushed request may carry; anything else is refused rather than silently dropped.
PUSHED_PARAMETERS = frozenset(
    {
        "response_type",
        "client_id",
        "redirect_uri",
        "scope",
        "state",
        "nonce",
        "code_challenge",
        "code_challenge_method",
        "purpose",
        "dpop_jkt",
        "prompt",
        "max_age",
        "ui_locales",
    }
)
CLIENT_AUTH_PARAMETERS = frozenset({"client_assertion", "client_assertion_type"})
PUSHED_VALUE_MAX = 4096


def credential_hash(value: str, *, kind: str) -> str:
    return lookup_hash(value, purpose=f"consent-{kind}")


# --- firms and clients ----------------------------------------------------------------------------------


def usable_client(client_id: str) -> FirmClient | None:
    """The client if its firm is approved and it may be used in its environment here; else None."""
    client = selectors.client_by_client_id(client_id)
    return client if client is not None and client_allowed(client, client.firm) else None


def client_allowed(client: FirmClient, firm: Firm) -> bool:
    """Whether the client, of this firm, may be used here: the firm approved, the environment allowed."""
    if firm.state != FirmState.APPROVED:
        return False
    if client.environment == ClientEnvironment.SANDBOX and not settings.FIRMS_SANDBOX:
        return False
    return not (client.environment == ClientEnvironment.PRODUCTION and not firm.production_allowed)


def client_scopes(client: FirmClient) -> set[str]:
    scopes = {OPENID}
    for purpose in client.firm.purposes.all():
        scopes.update(purpose.scopes)
    return scopes


def pairwise_subject(consent: Consent) -> str:
    """The resident's `sub` at this firm: stable for the firm, unrelated across firms (SPEC 2.2)."""
    return lookup_hash(f"{consent.firm.public_id}:{consent.resident.public_id}", purpose="pairwise-sub")


# --- pushed authorization requests (RFC 9126) ------------------------------------------------------------


def pushed_request_check(client: FirmClient, params: dict[str, str]) -> FirmPurpose:
    """What authlib does not check about a pushed request; raises the OAuth error the client should get."""
    # OAuth parameters are printable ASCII (RFC 6749 appendix A). Checked first: authlib refuses to build
    # an error description quoting anything else (a 500), and the database cannot store a NUL.
    for name, value in params.items():
        if (
            not (f"{name}{value}".isascii() and f"{name}{value}".isprintable())
            or len(value) > PUSHED_VALUE_MAX
        ):
            raise InvalidRequestError(
                f"Parameter names and values must be printable ASCII, each at most {PUSHED_VALUE_MAX} "
                "characters (RFC 6749 appendix A)."
            )
    if "request_uri" in params:
        raise InvalidRequestError("A pushed request cannot itself carry request_uri.")
    if "request" in params:
        raise InvalidRequestError("Request objects are not accepted; push the parameters themselves.")
    unknown = sorted(set(params) - PUSHED_PARAMETERS - CLIENT_AUTH_PARAMETERS)
    if unknown:
        raise InvalidRequestError(f"Unknown parameters: {', '.join(unknown)}.")
    if params.get("client_id", client.client_id) != client.client_id:
        raise InvalidRequestError("client_id does not match the authenticated client.")
    for required in ("redirect_uri", "scope", "state", "nonce", "code_challenge", "purpose"):
        if not params.get(required):
            raise InvalidRequestError(f"Missing '{required}'.")
    if params.get("code_challenge_method") != "S256":
        raise InvalidRequestError("PKCE with code_challenge_method=S256 is required.")
    scopes = params["scope"].split()
    if OPENID not in scopes:
        raise InvalidScopeError("The scope must include openid.")
    purpose = FirmPurpose.objects.filter(firm=client.firm, code=params["purpose"]).first()
    if purpose is None:
        raise InvalidRequestError("Unknown purpose: use a purpose code the portal approved for this firm.")
    data_scopes = [s for s in scopes if s != OPENID]
    if not data_scopes:
        raise InvalidScopeError("Ask for at least one item.")
    outside = sorted(set(data_scopes) - set(purpose.scopes))
    if outside:
        raise InvalidScopeError(f"Not declared for this purpose: {', '.join(outside)}.")
    if len(set(scopes)) != len(scopes):
        raise InvalidScopeError("A scope is repeated.")
    jkt = params.get("dpop_jkt", "")
    if jkt and not (20 <= len(jkt) <= 64):
        raise InvalidRequestError("dpop_jkt is not a JWK thumbprint.")
    return purpose


def pushed_request_store(client: FirmClient, params: dict[str, str]) -> tuple[str, int]:
    handle = secrets.token_urlsafe(32)
    lifetime = settings.CONSENT_PAR_SECONDS
    PushedAuthorization.objects.create(
        handle_hash=credential_hash(handle, kind="par"),
        client=client,
        params={k: v for k, v in params.items() if k not in CLIENT_AUTH_PARAMETERS},
        expires_at=timezone.now() + timedelta(seconds=lifetime),
    )
    return REQUEST_URI_PREFIX + handle, lifetime


def _pushed_error(ja: str, en: str) -> PortalError:
    return PortalError("invalid_request_uri", ja, en, 400)


def pushed_request_find(*, client_id: str, request_uri: str) -> PushedAuthorization:
    """The pushed request the browser's link names, unused and unexpired, of that very client."""
    if not request_uri:
        raise _pushed_error(
            "この連携要求は受け付けられません（事業者が要求を事前に送っていません）。",
            "This request cannot be accepted: the firm did not push it first (RFC 9126).",
        )
    if not request_uri.startswith(REQUEST_URI_PREFIX):
        raise _pushed_error("連携要求の形式が正しくありません。", "The request_uri is malformed.")
    handle = request_uri.removeprefix(REQUEST_URI_PREFIX)
    pushed = (
        PushedAuthorization.objects.select_related("client__firm")
        .filter(handle_hash=credential_hash(handle, kind="par"))
        .first()
    )
    if pushed is None or pushed.client.client_id != client_id:
        raise _pushed_error(
            "この連携要求は見つかりません。事業者のサイトからやり直してください。",
            "This request was not found. Please start again from the firm's site.",
        )
    return pushed_request_find_again(pushed)


def pushed_request_find_again(pushed: PushedAuthorization) -> PushedAuthorization:
    """The same request, still unused and unexpired, and its firm still allowed; else a PortalError."""
    if pushed.used_at is not None or pushed.expires_at <= timezone.now():
        raise _pushed_error(
            "この連携要求は期限切れか、使用済みです。事業者のサイトからやり直してください。",
            "This request has expired or was already used. Please start again from the firm's site.",
        )
    if usable_client(pushed.client.client_id) is None:
        raise _pushed_error(
            "この事業者は現在ご利用いただけません。",
            "This firm cannot be used at present.",
        )
    return pushed


def pushed_request_take(pushed: PushedAuthorization) -> None:
    """Marks the request used, once; a second decision on it is refused."""
    taken = PushedAuthorization.objects.filter(pk=pushed.pk, used_at__isnull=True).update(
        used_at=timezone.now()
    )
    if not taken:
        raise _pushed_error(
            "この連携要求はすでに処理されました。",
            "This request has already been answered.",
        )


# --- the consent ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ConsentTerms:
    """What the consent screen shows and the resident signs: exactly the pushed request's terms."""

    purpose: FirmPurpose
    scopes: list[str]
    access_kind: str
    interval_days: int | None
    access_days: int
    retention_days: int

    def payload(self, client: FirmClient, pushed: PushedAuthorization) -> dict[str, Any]:
        return {
            "request": pushed.pk,
            "client_id": client.client_id,
            "firm": str(client.firm.public_id),
            "purpose": self.purpose.code,
            "scopes": self.scopes,
            "access_kind": self.access_kind,
            "interval_days": self.interval_days,
            "access_days": self.access_days,
            "retention_days": self.retention_days,
        }


def consent_terms(pushed: PushedAuthorization) -> ConsentTerms:
    purpose = FirmPurpose.objects.get(firm=pushed.client.firm, code=pushed.params["purpose"])
    scopes = [s for s in pushed.params["scope"].split() if s in DATA_SCOPES]
    access_days = purpose.access_days
    if purpose.access_kind == AccessKind.PERIODIC and MEDICAL_SCOPES.intersection(scopes):
        access_days = min(access_days, MEDICAL_PERIODIC_MAX_DAYS)
    return ConsentTerms(
        purpose=purpose,
        scopes=scopes,
        access_kind=purpose.access_kind,
        interval_days=purpose.interval_days if purpose.access_kind == AccessKind.PERIODIC else None,
        access_days=access_days,
        retention_days=pushed.client.firm.retention_days,
    )


@transaction.atomic
def consent_grant(
    *, resident: Resident, pushed: PushedAuthorization, terms: ConsentTerms, proof: StepUpProof
) -> Consent:
    if resident.user_id is None:  # pragma: no cover - a resident always has a login
        raise AssertionError("resident without a login")
    pushed_request_take(pushed)
    now = timezone.now()
    return Consent.objects.create(
        resident=resident,
        firm=pushed.client.firm,
        client=pushed.client,
        purpose=terms.purpose,
        purpose_code=terms.purpose.code,
        purpose_ja=terms.purpose.description_ja,
        purpose_en=terms.purpose.description_en,
        scopes=terms.scopes,
        access_kind=terms.access_kind,
        interval_days=terms.interval_days,
        retention_days=terms.retention_days,
        starts_at=now,
        expires_at=now + timedelta(days=terms.access_days),
        signing_request_id=proof.request_id,
        act_digest=proof.act_digest,
        signer_serial_hash=proof.signer_serial_hash,
    )


def consent_usable(consent: Consent) -> bool:
    """Checked on every use, on the rows read with the consent in the same request (callers select the firm
    and the client with it): reading the client again would cost a query per call and check nothing more."""
    firm = consent.firm
    client = consent.client
    # consent_grant takes both from one client, so its firm is the consent's; the other branch is defensive.
    client_firm = firm if client.firm_id == firm.pk else client.firm
    return (
        consent.state == ConsentState.ACTIVE
        and consent.expires_at > timezone.now()
        and firm.state == FirmState.APPROVED
        and client_allowed(client, client_firm)
    )


def consent_refreshable(consent: Consent) -> bool:
    return consent.access_kind == AccessKind.PERIODIC


def consent_end(consent: Consent, *, state: str) -> bool:
    """Ends an active consent and every token of it at once; the firm is told after the commit."""
    from portal.consents.tasks import tell_firm_consent_ended  # the task module imports this one

    now = timezone.now()
    with transaction.atomic():
        ended = Consent.objects.filter(pk=consent.pk, state=ConsentState.ACTIVE).update(
            state=state, ended_at=now
        )
        if not ended:
            return False
        IssuedToken.objects.filter(consent=consent, revoked_at__isnull=True).update(revoked_at=now)
        transaction.on_commit(lambda: tell_firm_consent_ended.delay(consent_id=consent.pk), robust=True)
    return True


def consent_revoke(*, resident: Resident, consent_public_id: Any) -> Consent:
    consent = (
        Consent.objects.filter(resident=resident, public_id=consent_public_id).select_related("firm").first()
    )
    if consent is None:
        raise PortalError(
            "unknown_consent", "この同意は見つかりません。", "This consent does not exist.", 404
        )
    if not consent_end(consent, state=ConsentState.REVOKED):
        raise PortalError(
            "consent_not_active",
            "この同意はすでに終了しています。",
            "This consent has already ended.",
            409,
        )
    return consent


def consents_expire(*, now: dt.datetime | None = None) -> int:
    """Ends consents past their expiry (beat); returns how many."""
    now = now or timezone.now()
    ended = 0
    for consent in Consent.objects.filter(state=ConsentState.ACTIVE, expires_at__lte=now):
        ended += consent_end(consent, state=ConsentState.EXPIRED)
    return ended


def code_take(code: AuthorizationCode) -> bool:
    """Marks the code used; False if it was already. Of two requests racing with one code, one wins and the
    other is a replay. One fixed statement: it runs on every exchange."""
    now = timezone.now()
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE consents_authorizationcode SET used_at = %s WHERE id = %s AND used_at IS NULL",
            [AuthorizationCode._meta.get_field("used_at").get_db_prep_save(now, connection), code.pk],
        )
        taken = cursor.rowcount == 1
    if taken:
        code.used_at = now
    return taken


def code_replayed(code: AuthorizationCode) -> None:
    """RFC 6749 section 4.1.2: a code used twice revokes what it gave."""
    IssuedToken.objects.filter(code=code, revoked_at__isnull=True).update(revoked_at=timezone.now())


def token_by_string(token_string: str) -> IssuedToken | None:
    related = ("consent__firm", "consent__resident", "consent__client", "client")
    refresh_tokens = IssuedToken.objects.select_related(*related)
    return selectors.token_by_access_hash(credential_hash(token_string, kind="access")) or (
        refresh_tokens.filter(refresh_token_hash=credential_hash(token_string, kind="refresh")).first()
    )


# --- pulls through the resource API ----------------------------------------------------------------------


def pull_allowed_after(consent: Consent, category: str) -> dt.datetime | None:
    """None if the category may be pulled now; else when it may be (periodic access, one per interval)."""
    if consent.access_kind != AccessKind.PERIODIC or not consent.interval_days:
        return None
    last = (
        PullRecord.objects.filter(consent=consent, category=category)
        .values_list("pulled_at", flat=True)
        .first()
    )
    if last is None:
        return None
    allowed = last + timedelta(days=consent.interval_days)
    return allowed if allowed > timezone.now() else None


def pull_record(consent: Consent, category: str) -> None:
    """After a release: when it happened, and a one-time consent used up once all it covers was pulled."""
    now = timezone.now()
    if connection.vendor == "postgresql":
        _pull_write_in_one_statement(consent, category, now)
    else:
        # On every pull, so one commit and no read: an upsert on the (consent, category) constraint.
        with transaction.atomic():
            PullRecord.objects.bulk_create(
                [PullRecord(consent=consent, category=category, pulled_at=now)],
                update_conflicts=True,
                unique_fields=["consent", "category"],
                update_fields=["pulled_at"],
            )
            Consent.objects.filter(pk=consent.pk).update(last_used_at=now)
    consent.last_used_at = now
    if consent.access_kind == AccessKind.ONE_TIME:
        pulled = set(PullRecord.objects.filter(consent=consent).values_list("category", flat=True))
        if pulled_categories(consent.scopes) <= pulled:
            consent_end(consent, state=ConsentState.USED)


def _pull_write_in_one_statement(consent: Consent, category: str, now: dt.datetime) -> None:
    """PostgreSQL: the pull's upsert and the consent's last use in one statement, so that outside a
    transaction it commits by itself: one round trip, no BEGIN and COMMIT, on every resource API call."""
    with connection.cursor() as cursor:
        cursor.execute(
            "WITH pulled AS (INSERT INTO consents_pullrecord (consent_id, category, pulled_at) "
            "VALUES (%s, %s, %s) ON CONFLICT (consent_id, category) "
            "DO UPDATE SET pulled_at = EXCLUDED.pulled_at RETURNING 1) "
            "UPDATE consents_consent SET last_used_at = %s WHERE id = %s AND EXISTS (SELECT 1 FROM pulled)",
            [consent.pk, category, now, now, consent.pk],
        )


def category_granted(consent: Consent, category: str) -> bool:
    if category == BASIC_CATEGORY:
        return any(s in consent.scopes for s in ("name", "birth_date", "sex", "address"))
    return category in CATEGORY_SCOPES and category in consent.scopes


def consents_end_for_controller_change(
    *, firm_id: int, new_legal_name: str, change_id: int | None = None
) -> int:
    """事業承継: the data would now go to another controller, which no resident agreed to. Every consent
    given before the change ends (the firm is told as for any end), and each resident is told they must
    consent again. Safe to run again: a consent already ended is told again only if its notice is missing
    (the notice's key makes one), and a consent given after the change, to the new controller, is kept.
    Returns how many consents this run ended."""
    change = ControllerChange.objects.filter(pk=change_id, firm_id=firm_id).first() if change_id else None
    consents = Consent.objects.filter(firm_id=firm_id).select_related("firm", "resident")
    if change is None:
        consents = consents.filter(state=ConsentState.ACTIVE)
        previous_name = previous_name_en = None
    else:
        consents = consents.filter(
            Q(state=ConsentState.ACTIVE)
            | Q(state=ConsentState.CONTROLLER_CHANGED, ended_at__gte=change.recorded_at),
            starts_at__lt=change.recorded_at,
        )
        previous_name = change.previous_legal_name
        previous_name_en = change.previous_legal_name_en or change.previous_legal_name
    ended = 0
    for consent in consents:
        if consent.state == ConsentState.ACTIVE:
            if not consent_end(consent, state=ConsentState.CONTROLLER_CHANGED):
                continue  # ended meanwhile, another way: that end told the firm and the resident
            ended += 1
        _controller_change_notice(
            consent,
            previous_name=previous_name or consent.firm.legal_name,
            previous_name_en=previous_name_en or consent.firm.display_name("en"),
            new_legal_name=new_legal_name,
        )
    if change is not None:
        ControllerChange.objects.filter(pk=change.pk, consents_ended_at__isnull=True).update(
            consents_ended_at=timezone.now()
        )
    return ended


def _controller_change_notice(
    consent: Consent, *, previous_name: str, previous_name_en: str, new_legal_name: str
) -> None:
    from notices.services import portal_notice_send  # notices builds on the portal's apps, not the reverse

    portal_notice_send(
        resident=consent.resident,
        key=f"consent-controller-change:{consent.public_id}",
        category="procedure",
        title_ja="情報の提供先の事業者が変わりました",
        title_en="The firm receiving your information has changed",
        body_ja=(
            f"{previous_name}への情報提供の同意は、事業の承継により{new_legal_name}に"
            "引き継がれるため終了しました。引き続き提供する場合は、新しい事業者のサービスから"
            "改めて同意してください。「民間サービスとの連携」で確かめられます。"
        ),
        body_en=(
            f"Your consent for {previous_name_en} has ended because its business "
            f"passed to {new_legal_name}. To keep sharing, consent again from the new firm's "
            "service. See Linked services."
        ),
    )


def controller_changes_owed(*, cutoff: dt.datetime, now: dt.datetime) -> QuerySet[ControllerChange]:
    """Changes of controller whose consents were not ended, recorded (or resent) before ``cutoff``: the
    task was lost, and consents meant to end still let the firm read."""
    return (
        ControllerChange.objects.filter(consents_ended_at__isnull=True, recorded_at__lte=cutoff)
        .filter(Q(resent_at__isnull=True) | Q(resent_at__lte=cutoff))
        .order_by("recorded_at")
    )


def controller_change_send_again(change: ControllerChange, *, now: dt.datetime) -> str:
    from portal.consents.tasks import end_for_controller_change  # the task module imports this one

    ControllerChange.objects.filter(pk=change.pk).update(resent_at=now)
    end_for_controller_change.delay(
        firm_id=change.firm_id, new_legal_name=change.new_legal_name, change_id=change.pk
    )
    return SENT_AGAIN


def consent_firm_tells_owed(*, cutoff: dt.datetime, now: dt.datetime) -> QuerySet[Consent]:
    """Ended consents the firm was not told of, not failed for good, with no try since ``cutoff``."""
    return (
        Consent.objects.filter(
            ended_at__lte=cutoff, firm_told_at__isnull=True, firm_tell_failed_at__isnull=True
        )
        .exclude(state=ConsentState.ACTIVE)
        .filter(Q(firm_tell_tried_at__isnull=True) | Q(firm_tell_tried_at__lte=cutoff))
        .order_by("ended_at")
    )


def consent_firm_tell_send_again(consent: Consent, *, now: dt.datetime) -> str:
    from portal.consents.tasks import tell_firm_consent_ended  # the task module imports this one

    Consent.objects.filter(pk=consent.pk).update(firm_tell_tried_at=now)
    tell_firm_consent_ended.delay(consent_id=consent.pk)
    return SENT_AGAIN


def consent_firm_tells_failed(*, firm_id: int) -> QuerySet[Consent]:
    """Ended consents whose firm never took the message: retries ran out (firm_tell_failed_at)."""
    return Consent.objects.filter(
        firm_id=firm_id, firm_told_at__isnull=True, firm_tell_failed_at__isnull=False
    )


@transaction.atomic
def consent_firm_tells_retry(*, firm_id: int) -> int:
    """Staff, once the firm says its callback works again: every message it missed is sent afresh, with
    the task's full run of retries (the lost-task sweep watches them again). How many were queued."""
    from portal.consents.tasks import tell_firm_consent_ended  # the task module imports this one

    now = timezone.now()
    ids = list(consent_firm_tells_failed(firm_id=firm_id).select_for_update().values_list("pk", flat=True))
    Consent.objects.filter(pk__in=ids).update(firm_tell_failed_at=None, firm_tell_tried_at=now)
    for consent_id in ids:
        transaction.on_commit(partial(tell_firm_consent_ended.delay, consent_id=consent_id))
    return len(ids)


def consent_firm_tell_gave_up(*, consent_id: int) -> None:
    """The firm's callback stayed unreachable through about three hours of retries: kept on the consent
    (firm_tell_failed_at) and left by the lost-task sweep. The firm's tokens fail at their next use anyway."""
    Consent.objects.filter(pk=consent_id, firm_told_at__isnull=True).update(
        firm_tell_failed_at=timezone.now()
    )
