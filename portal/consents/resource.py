"""The resource API's rules: which token, which consent, what may be released, and the record first.

A call is good only with `Authorization: DPoP <token>` and a fresh proof by the key the token is bound to.
Every answer with personal data is written to the resident's access history (the firm's legal name as the
actor, the consent's purpose) before it is returned (SPEC 2.3).
"""

import math
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import transaction
from django.http import HttpRequest
from django.utils import timezone

from portal.consents import selectors, services
from portal.consents.dpop import ALGORITHMS, DPoPError, dpop_verify
from portal.consents.models import IssuedToken
from portal.consents.scopes import BASIC_CATEGORY, BASIC_ITEMS, CATEGORY_SCOPES
from portal.core.errors import PortalError
from portal.core.ratelimit import rate_limit
from portal.history.models import Channel
from portal.history.services import Actor, release_record
from portal.myinfo.models import EntryState
from portal.myinfo.selectors import myinfo_held
from portal.myinfo.services import myinfo_refresh_start

# How long a firm is asked to wait while the portal fetches a category from its agency.
FETCH_RETRY_AFTER_SECONDS = 5
OIDC_GENDER = {"1": "male", "2": "female", "9": "other"}


def _unauthorized(code: str, ja: str, en: str) -> PortalError:
    challenge = f'DPoP error="{code}", algs="{" ".join(ALGORITHMS)}"'
    return PortalError(code, ja, en, 401, extra={"www_authenticate": challenge})


def api_token(request: HttpRequest) -> IssuedToken:
    """The request's token, checked: its scheme, its consent and firm, and the DPoP proof of its key."""
    scheme, _, value = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "dpop" or not value.strip():
        raise _unauthorized(
            "invalid_token",
            "DPoP形式のアクセストークンが必要です。",
            "A DPoP-bound access token is required (Authorization: DPoP <token>).",
        )
    value = value.strip()
    # Read on every call, with what the checks and the record need joined, in fixed SQL.
    token = selectors.token_by_access_hash(services.credential_hash(value, kind="access"))
    if token is None or token.revoked_at is not None or token.expires_at <= timezone.now():
        raise _unauthorized(
            "invalid_token",
            "アクセストークンが無効か、期限切れか、取り消されています。",
            "The access token is unknown, expired or revoked.",
        )
    if not services.consent_usable(token.consent):
        raise _unauthorized(
            "invalid_token",
            "この同意は終了しているか、事業者の利用が停止されています。",
            "The consent has ended, or the firm's access is suspended.",
        )
    try:
        proof = dpop_verify(request, access_token=value)
    except DPoPError as error:
        raise _unauthorized(
            "invalid_dpop_proof", "DPoP証明が正しくありません。", error.description
        ) from error
    if proof.jkt != token.dpop_jkt:
        raise _unauthorized(
            "invalid_dpop_proof",
            "DPoP証明の鍵がトークンの鍵と一致しません。",
            "The DPoP proof is signed by another key than the token's.",
        )
    firm = token.consent.firm
    rate_limit(
        scope="firm-api",
        key=str(firm.public_id),
        limit=settings.CONSENT_API_RATE_PER_MINUTE,
        window_seconds=60,
    )
    return token


def _granted(token: IssuedToken, category: str) -> None:
    if not services.category_granted(token.consent, category):
        raise PortalError(
            "insufficient_scope",
            "この情報の提供には同意されていません。",
            "The resident did not consent to this item.",
            403,
        )
    wait_until = services.pull_allowed_after(token.consent, category)
    if wait_until is not None:
        seconds = math.ceil((wait_until - timezone.now()).total_seconds())
        raise PortalError(
            "pull_interval",
            "同意の頻度を超えています。時間をおいて取得してください。",
            "The consent allows one pull per interval; try again later.",
            429,
            extra={"retry_after": max(seconds, 1)},
        )


def _release(token: IssuedToken, category: str, items: list[str]) -> None:
    consent = token.consent
    release_record(
        owner=consent.resident,
        actor=Actor.for_firm(str(consent.firm.public_id), consent.firm.legal_name),
        category=category,
        items=items,
        purpose=consent.purpose_ja,
        channel=Channel.FIRM_API,
        legal_basis=f"本人の同意（{consent.public_id}）",
    )


def userinfo_release(token: IssuedToken) -> dict[str, Any]:
    """`sub` and the granted basic items; recorded before it is returned."""
    consent = token.consent
    items = [s for s in consent.scopes if s in BASIC_ITEMS and s in token.scope.split()]
    claims: dict[str, Any] = {"sub": services.pairwise_subject(consent)}
    if not items:
        return claims
    _granted(token, BASIC_CATEGORY)
    resident = consent.resident
    _release(token, BASIC_CATEGORY, items)
    if "name" in items:
        claims["name"] = resident.name
        claims["name_kana"] = resident.name_kana
    if "birth_date" in items:
        claims["birthdate"] = resident.birth_date.isoformat()
    if "sex" in items:
        claims["gender"] = OIDC_GENDER.get(resident.sex, "other")
    if "address" in items:
        claims["address"] = {"formatted": resident.address, "country": "JP"}
    services.pull_record(consent, BASIC_CATEGORY)
    return claims


@dataclass(frozen=True)
class Pending:
    retry_after: int


def information_release(token: IssuedToken, category: str) -> dict[str, Any] | Pending:
    """A category from the cache (recorded first), or Pending while the portal fetches it."""
    if category not in CATEGORY_SCOPES:
        raise PortalError(
            "unknown_category", "この情報の種類はありません。", "There is no such category.", 404
        )
    if category not in token.scope.split():
        raise PortalError(
            "insufficient_scope",
            "このトークンではこの情報を取得できません。",
            "This token was not issued for this category.",
            403,
        )
    _granted(token, category)
    consent = token.consent
    held = myinfo_held(resident=consent.resident, category=category)
    if held is not None and held.state == EntryState.QUARANTINED:
        raise PortalError(
            "record_unconfirmed",
            "行政機関の記録がご本人のものと確認できないため、提供できません。",
            "The agency's record could not be confirmed as this resident's, so it is not released.",
            409,
        )
    if held is None or held.data is None:
        with transaction.atomic():
            myinfo_refresh_start(resident=consent.resident, categories=[category])
        return Pending(retry_after=FETCH_RETRY_AFTER_SECONDS)
    _release(token, category, [category])
    services.pull_record(consent, category)
    return {
        "category": category,
        "agency": held.agency_id,
        "as_of": held.as_of.isoformat() if held.as_of else None,
        "data": held.data,
    }
