"""Writes of proxy grants: invite, accept, confirm (signed), end. Never make a grant active without the
principal's own signature, never let a code work twice or after its expiry, never let a grant outlive its
end date.
"""

import datetime as dt
import secrets
from typing import Any

from django.db import transaction
from django.utils import timezone

from portal.core.crypto import lookup_hash
from portal.core.errors import PortalError
from portal.identity.models import Resident
from portal.identity.services import StepUpProof
from portal.proxies.insurer import insurer_registration_open, insurer_registrations_withdraw
from portal.proxies.models import EndedBy, GrantState, ProxyGrant
from portal.proxies.scopes import SCOPE_CODES, scopes_with_implied

APPOINT_ACT = "proxy.appoint"
INVITATION_HOURS = 72
MAX_DAYS = 366
CODE_BYTES = 12


def _refused(code: str, ja: str, en: str, status: int = 422) -> PortalError:
    return PortalError(code, ja, en, status)


def invitation_hash(code: str) -> str:
    return lookup_hash(code.strip().upper(), purpose="proxy-invitation")


def _check_scopes(scopes: list[str]) -> list[str]:
    chosen = sorted(set(scopes))
    if not chosen:
        raise _refused(
            "scopes_required",
            "代理人にお願いすることを一つ以上選んでください。",
            "Choose at least one thing the proxy may do for you.",
        )
    unknown = [s for s in chosen if s not in SCOPE_CODES]
    if unknown:
        raise _refused("unknown_scope", "選べない範囲が含まれています。", f"Unknown scope: {unknown[0]}.")
    return scopes_with_implied(chosen)


def _check_end(ends_on: dt.date, today: dt.date) -> dt.date:
    if ends_on <= today:
        raise _refused(
            "end_in_past", "終了日は明日以降の日付にしてください。", "The end date must be after today."
        )
    if ends_on > today + dt.timedelta(days=MAX_DAYS):
        raise _refused(
            "end_too_far",
            "代理の期間は最長1年です。終了日を1年以内にしてください。",
            "A proxy lasts at most one year: choose an end date within a year.",
        )
    return ends_on


@transaction.atomic
def invitation_create(*, principal: Resident, scopes: list[str], ends_on: dt.date) -> tuple[ProxyGrant, str]:
    """A new invitation and its one-time code, shown to the principal once and stored only as a hash."""
    chosen = _check_scopes(scopes)
    end = _check_end(ends_on, timezone.localdate())
    code = secrets.token_hex(CODE_BYTES).upper()
    grant = ProxyGrant.objects.create(
        principal=principal,
        scopes=chosen,
        ends_on=end,
        invitation_hash=invitation_hash(code),
        invitation_expires_at=timezone.now() + dt.timedelta(hours=INVITATION_HOURS),
    )
    return grant, code


@transaction.atomic
def invitation_accept(*, proxy: Resident, code: str) -> ProxyGrant:
    """The invitee, logged in with their own card, takes the invitation; the principal must still sign."""
    grant = (
        ProxyGrant.objects.select_for_update()
        .select_related("principal")
        .filter(invitation_hash=invitation_hash(code or ""))
        .first()
    )
    if grant is None or grant.state != GrantState.INVITED:
        raise _refused(
            "invitation_invalid",
            "この招待コードは使えません（誤り、または使用済み）。ご本人に新しい招待を依頼してください。",
            "This invitation code cannot be used (wrong or already used). Ask for a new invitation.",
            404,
        )
    if grant.invitation_expires_at is None or grant.invitation_expires_at <= timezone.now():
        raise _refused(
            "invitation_expired",
            "この招待コードは有効期限が切れています。ご本人に新しい招待を依頼してください。",
            "This invitation code has expired. Ask for a new invitation.",
            410,
        )
    if grant.principal_id == proxy.pk:
        raise _refused(
            "self_invitation",
            "ご自身を代理人にすることはできません。",
            "You cannot be your own proxy.",
        )
    circular = ProxyGrant.objects.filter(
        principal=proxy,
        proxy=grant.principal,
        state__in=[GrantState.ACCEPTED, GrantState.ACTIVE],
    ).exists()
    if circular:
        raise _refused(
            "circular_proxy",
            "この方はすでにあなたの代理人です。お互いに代理人になることはできません。",
            "This person is already your proxy: two people cannot be each other's proxies.",
            409,
        )
    grant.proxy = proxy
    grant.state = GrantState.ACCEPTED
    grant.accepted_at = timezone.now()
    grant.invitation_hash = None  # one use only
    grant.save(update_fields=["proxy", "state", "accepted_at", "invitation_hash"])
    return grant


def appoint_payload(grant: ProxyGrant) -> dict[str, Any]:
    """What the principal signs: this grant, this proxy, these scopes, this end."""
    return {
        "grant": str(grant.public_id),
        "proxy": str(grant.proxy.public_id) if grant.proxy else "",
        "scopes": list(grant.scopes),
        "ends_on": grant.ends_on.isoformat(),
    }


@transaction.atomic
def grant_confirm(*, principal: Resident, grant: ProxyGrant, proof: StepUpProof) -> ProxyGrant:
    """The principal's signature makes an accepted grant active."""
    grant = ProxyGrant.objects.select_for_update(of=("self",)).select_related("proxy").get(pk=grant.pk)
    if grant.principal_id != principal.pk or grant.state != GrantState.ACCEPTED or proof.act != APPOINT_ACT:
        raise _refused(
            "grant_not_confirmable",
            "この代理人の登録は確認できません。画面を更新してください。",
            "This proxy cannot be confirmed. Please reload the page.",
            409,
        )
    grant.state = GrantState.ACTIVE
    grant.confirmed_at = timezone.now()
    grant.signing_request_id = proof.request_id
    grant.act_digest = proof.act_digest
    grant.signer_serial_hash = proof.signer_serial_hash
    grant.save(
        update_fields=["state", "confirmed_at", "signing_request_id", "act_digest", "signer_serial_hash"]
    )
    insurer_registration_open(grant=grant)
    return grant


@transaction.atomic
def grant_end(*, resident: Resident, grant_public_id: Any) -> ProxyGrant:
    """Either side ends a grant (or an invitation) at once; ending twice changes nothing."""
    grant = ProxyGrant.objects.select_for_update().filter(public_id=grant_public_id).first()
    if grant is None or resident.pk not in (grant.principal_id, grant.proxy_id):
        raise _refused("grant_not_found", "この代理人の登録はありません。", "No such proxy.", 404)
    if grant.state != GrantState.ENDED:
        grant.state = GrantState.ENDED
        grant.ended_at = timezone.now()
        grant.ended_by = EndedBy.PRINCIPAL if resident.pk == grant.principal_id else EndedBy.PROXY
        grant.invitation_hash = None
        grant.save(update_fields=["state", "ended_at", "ended_by", "invitation_hash"])
        insurer_registrations_withdraw(grant_ids=[grant.pk])
    return grant


def _grants_end(grants: Any, *, by: str) -> int:
    """Ends the grants of a query at once, and withdraws their registrations with the medical insurer."""
    ids = list(grants.exclude(state=GrantState.ENDED).select_for_update().values_list("pk", flat=True))
    ended = ProxyGrant.objects.filter(pk__in=ids).update(
        state=GrantState.ENDED, ended_at=timezone.now(), ended_by=by, invitation_hash=None
    )
    insurer_registrations_withdraw(grant_ids=ids)
    return ended


@transaction.atomic
def grants_end_all(*, principal: Resident, by: str = EndedBy.PRINCIPAL) -> int:
    """Ends every proxy of the principal at once (a support request, or the principal's own wish)."""
    return _grants_end(ProxyGrant.objects.filter(principal=principal), by=by)


@transaction.atomic
def grants_hold_for_review(*, principal_ids: list[int]) -> int:
    """The principals' cards were revoked: their active proxies stop until each principal keeps or ends
    every one of them (a lost card must not leave someone acting silently). Each principal is told."""
    from notices.services import portal_notice_send

    held = ProxyGrant.objects.filter(
        principal_id__in=principal_ids, state=GrantState.ACTIVE, review_required=False
    ).select_related("principal")
    principals = {grant.principal for grant in held}
    count = held.update(review_required=True)
    for principal in principals:
        portal_notice_send(
            resident=principal,
            key=f"proxies-review:{principal.pk}:{timezone.now():%Y%m%d%H%M}",
            category="procedure",
            title_ja="代理人の確認をお願いします",
            title_en="Please review your proxies",
            body_ja="マイナンバーカードの電子証明書が失効したため、あなたの代理人による代理を止めています。"
            "マイナポータルの「代理人」で、代理人ごとに続けるか終了するかを選んでください。",
            body_en="A certificate of your My Number Card was revoked, so your proxies cannot act for you "
            "for now. Under Proxies, choose for each one whether to keep or end it.",
        )
    return count


@transaction.atomic
def grant_keep(*, principal: Resident, grant_public_id: Any) -> ProxyGrant:
    """The principal reviewed a held proxy and keeps it."""
    grant = (
        ProxyGrant.objects.select_for_update().filter(public_id=grant_public_id, principal=principal).first()
    )
    if grant is None or grant.state != GrantState.ACTIVE:
        raise _refused("grant_not_found", "この代理人の登録はありません。", "No such proxy.", 404)
    grant.review_required = False
    grant.save(update_fields=["review_required"])
    return grant


@transaction.atomic
def grants_end_expired(*, today: dt.date | None = None) -> int:
    """Grants whose end date has passed (a child who turned 15, a proxy's last day) end for good."""
    today = today or timezone.localdate()
    return _grants_end(ProxyGrant.objects.filter(ends_on__lt=today), by=EndedBy.EXPIRY)
