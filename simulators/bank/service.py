"""The bank's mortgage pre-screening (住宅ローンの事前審査) as steps the pages call.

1. ``application_start``: a new application with PKCE, state, nonce and a DPoP key; the request is pushed
   to the portal and the browser is sent there with ``client_id`` and ``request_uri`` only.
2. ``callback_receive``: the portal's answer is checked (state, then iss, RFC 9207) before anything else;
   the code is exchanged with the PKCE verifier and a DPoP proof; the ID token is verified.
3. ``applicant_read``: the applicant's income and name from the resource API, waiting (a few times) while
   the portal fetches from the tax office.
4. ``applicant_check_again``: one more call with the same token, to see whether the consent still holds.
5. ``consent_event_receive``: the portal's notice that a consent ended, verified and kept.

A refused answer from the browser changes nothing; a failure is kept on the application for the page.
"""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import Awaitable, Callable
from typing import Any

from authlib.common.security import generate_token
from authlib.oauth2.rfc7636 import create_s256_code_challenge
from joserfc.jwk import ECKey

from simulators.bank.client import ConsentEventInvalid, PortalClient, ResourceAnswer, Tokens
from simulators.bank.config import INCOME_CATEGORY, PURPOSE, SCOPE, Settings
from simulators.bank.dpop import jwk_thumbprint, new_dpop_key
from simulators.bank.errors import BankProblem
from simulators.bank.store import Application, BankStore

Sleep = Callable[[float], Awaitable[None]]
#: When the portal says 202 without Retry-After.
DEFAULT_WAIT_SECONDS = 2
PKCE_VERIFIER_LENGTH = 64  # RFC 7636: 43 to 128 characters


class StillFetching(Exception):
    """The portal is still fetching from the agency after our retries (202)."""

    def __init__(self, retry_after: int) -> None:
        super().__init__(retry_after)
        self.retry_after = retry_after


async def application_start(*, store: BankStore, client: PortalClient, session_id: str) -> str:
    """Pushes a new authorization request; returns where to send the browser."""
    code_verifier = generate_token(PKCE_VERIFIER_LENGTH)
    dpop_key = new_dpop_key()
    application = Application(
        id=secrets.token_urlsafe(16),
        session_id=session_id,
        state=generate_token(32),
        nonce=generate_token(32),
        code_verifier=code_verifier,
        dpop_key=dpop_key.as_dict(private=True),
    )
    redirect_to = await client.push_authorization(
        {
            "response_type": "code",
            "redirect_uri": client.settings.redirect_uri,
            "scope": SCOPE,
            "purpose": PURPOSE,
            "state": application.state,
            "nonce": application.nonce,
            "code_challenge": create_s256_code_challenge(code_verifier),
            "code_challenge_method": "S256",
            # RFC 9449 section 10: the code will be exchangeable only with proofs by this key.
            "dpop_jkt": jwk_thumbprint(dpop_key),
        }
    )
    store.application_save(application)
    return redirect_to


def _dpop_key(application: Application) -> ECKey:
    return ECKey.import_key(application.dpop_key)


def _keep_tokens(application: Application, tokens: Tokens) -> None:
    application.access_token = tokens.access_token
    application.token_expires_at = tokens.expires_at
    application.refresh_token = tokens.refresh_token
    application.scope = tokens.scope


async def callback_receive(
    *, store: BankStore, client: PortalClient, session_id: str | None, params: dict[str, str]
) -> Application:
    """The browser's return from the portal. Raises BankProblem; a refusal before the state and issuer
    are known to be right leaves the application as it was."""
    application = store.application_latest(session_id) if session_id else None
    if application is None:
        raise BankProblem("application_missing")
    if not secrets.compare_digest(params.get("state", ""), application.state):
        raise BankProblem("state_mismatch")
    metadata = await client.metadata()
    issuer = params.get("iss")
    # RFC 9207 section 2.4: compare iss when sent; require it when the portal said it always sends it.
    if (issuer is None and metadata.iss_parameter_supported) or (
        issuer is not None and issuer != metadata.issuer
    ):
        raise BankProblem("issuer_mismatch")
    if application.status != "started":
        return application  # the same answer again (a reload): the code was used already
    try:
        if "error" in params:
            code = "access_denied" if params["error"] == "access_denied" else "authorization_failed"
            raise BankProblem(code, params["error"])
        if not params.get("code"):
            raise BankProblem("code_missing")
        dpop_key = _dpop_key(application)
        tokens = await client.exchange_code(
            code=params["code"], code_verifier=application.code_verifier, dpop_key=dpop_key
        )
        if tokens.id_token is None:
            raise BankProblem("id_token_invalid", "no id_token")
        claims = await client.verify_id_token(
            tokens.id_token, nonce=application.nonce, access_token=tokens.access_token
        )
    except BankProblem as problem:
        application.status = "declined" if problem.code == "access_denied" else "failed"
        application.problem = problem.as_dict()
        store.application_save(application)
        raise
    _keep_tokens(application, tokens)
    application.subject = claims["sub"]
    application.status = "authorized"
    store.application_save(application)
    return application


def _problem_of(answer: ResourceAnswer) -> BankProblem:
    detail = answer.error or f"HTTP {answer.status}"
    if answer.status == 401:
        return BankProblem("token_rejected", detail)
    if answer.status == 403:
        return BankProblem("insufficient_scope", detail)
    if answer.status == 429:
        return BankProblem("rate_limited", detail, answer.retry_after)
    return BankProblem("resource_failed", detail)


async def _read_patiently(
    client: PortalClient, application: Application, url: str, *, sleep: Sleep
) -> dict[str, Any]:
    """One resource, retried while the portal answers 202, as long as it asks (within our limits)."""
    settings: Settings = client.settings
    assert application.access_token is not None
    for attempt in range(settings.resource_retries + 1):
        answer = await client.resource_get(
            url, access_token=application.access_token, dpop_key=_dpop_key(application)
        )
        if answer.status == 200 and isinstance(answer.body, dict):
            return answer.body
        if answer.status != 202:
            raise _problem_of(answer)
        wait = answer.retry_after if answer.retry_after is not None else DEFAULT_WAIT_SECONDS
        if attempt == settings.resource_retries:
            raise StillFetching(max(wait, 1))
        await sleep(min(wait, settings.max_wait_seconds))
    raise AssertionError("unreachable")


def _income_envelope(body: dict[str, Any]) -> dict[str, Any]:
    if body.get("category") != INCOME_CATEGORY or not isinstance(body.get("data"), dict):
        raise BankProblem("resource_failed", "not an income_tax answer")
    return body


async def _income_read(client: PortalClient, application: Application, *, sleep: Sleep) -> dict[str, Any]:
    url = f"{client.settings.portal_url}/api/v1/information/{INCOME_CATEGORY}"
    return _income_envelope(await _read_patiently(client, application, url, sleep=sleep))


async def applicant_read(
    *, store: BankStore, client: PortalClient, application: Application, sleep: Sleep = asyncio.sleep
) -> Application:
    """Reads what is still missing (income, then name); the application says how it went."""
    if application.status not in ("authorized", "pending"):
        return application
    try:
        if application.income is None:
            application.income = await _income_read(client, application, sleep=sleep)
        if application.userinfo is None:
            metadata = await client.metadata()
            userinfo = await _read_patiently(client, application, metadata.userinfo_endpoint, sleep=sleep)
            # OpenID Connect Core 5.3.2: the userinfo must be about the ID token's subject.
            if userinfo.get("sub") != application.subject:
                raise BankProblem("resource_failed", "userinfo is about another subject")
            application.userinfo = userinfo
    except StillFetching as waiting:
        application.status = "pending"
        application.retry_after = waiting.retry_after
    except BankProblem as problem:
        application.status = "failed"
        application.problem = problem.as_dict()
    else:
        application.status = "completed"
        application.retry_after = None
    store.application_save(application)
    return application


async def applicant_check_again(
    *, store: BankStore, client: PortalClient, application: Application, sleep: Sleep = asyncio.sleep
) -> Application:
    """Calls the resource API once more with the stored token (refreshed first if it expired and the
    consent gave a refresh token); the outcome is kept as ``last_check``."""
    if application.access_token is None or application.status not in ("completed", "pending"):
        raise BankProblem("not_ready")
    outcome: dict[str, Any] = {"at": time.time(), "ok": False}
    try:
        if application.token_expired():
            if application.refresh_token is None:
                raise BankProblem("token_expired")
            tokens = await client.refresh(
                refresh_token=application.refresh_token, dpop_key=_dpop_key(application)
            )
            _keep_tokens(application, tokens)
        application.income = await _income_read(client, application, sleep=sleep)
        outcome["ok"] = True
    except StillFetching as waiting:
        outcome.update(ok=True, pending=True, retry_after=waiting.retry_after)
    except BankProblem as problem:
        if problem.code == "token_refused":  # the refresh was refused: the consent has ended
            problem = BankProblem("token_rejected", problem.detail)
        outcome["problem"] = problem.as_dict()
    application.last_check = outcome
    store.application_save(application)
    return application


async def consent_event_receive(*, store: BankStore, client: PortalClient, token: str) -> bool:
    """Verifies and keeps a consent-ended notice. Raises ConsentEventInvalid (400) or BankProblem when
    the portal's keys cannot be read (503, so that the portal sends it again)."""
    claims = await client.consent_event_verify(token)
    return store.consent_event_add(claims)


__all__ = [
    "ConsentEventInvalid",
    "StillFetching",
    "applicant_check_again",
    "applicant_read",
    "application_start",
    "callback_receive",
    "consent_event_receive",
]
