"""The sample bank's web pages: さくら銀行's mortgage pre-screening, a client of the portal's consent API.

Pages are Jinja2 templates, Japanese first with English beside them. A browser is known by a random session
cookie (SameSite=Lax, so that it comes back with the portal's redirect); forms carry an HMAC of it (signed
double submit) and are refused from another origin.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import hmac
import os
import secrets
from pathlib import Path
from typing import Any

import httpx
from fastapi import FastAPI, Form, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates

from simulators.bank import service
from simulators.bank.client import ConsentEventInvalid, PortalClient
from simulators.bank.config import INCOME_CATEGORY, PURPOSE, SCOPE, Settings
from simulators.bank.errors import BankProblem
from simulators.bank.keys import bank_key, public_jwk
from simulators.bank.store import BankStore

TEMPLATES = Jinja2Templates(directory=str(Path(__file__).parent / "templates"))
SESSION_COOKIE = "bank_session"
#: A consent-ended notice is a short JWT; anything much larger is not one.
MAX_EVENT_BYTES = 16 * 1024
JST = dt.timezone(dt.timedelta(hours=9), "JST")

END_REASONS = {
    "revoked": ("ご本人が同意を取り消しました", "the resident revoked it"),
    "expired": ("同意の期間が終わりました", "it expired"),
    "used": ("1回限りの同意が使われました", "the one-time consent was used"),
    "controller_changed": ("事業者の変更により終了しました", "the firm's controller changed"),
}


def _yen(value: Any) -> str:
    return f"{value:,}" if isinstance(value, int) else "—"


def _local_time(value: Any) -> str:
    if isinstance(value, int | float):
        return dt.datetime.fromtimestamp(value, JST).strftime("%Y-%m-%d %H:%M:%S")
    return str(value)


TEMPLATES.env.filters["yen"] = _yen
TEMPLATES.env.filters["local_time"] = _local_time


def _income_summary(envelope: dict[str, Any] | None) -> dict[str, Any] | None:
    """The newest assessed year, as the page shows it (revenue is what a bank calls 年収)."""
    if not envelope:
        return None
    data = envelope.get("data") or {}
    years = [year for year in data.get("years") or [] if isinstance(year, dict)]
    latest = years[0] if years else None
    incomes = [item for item in (latest or {}).get("incomes") or [] if isinstance(item, dict)]
    revenues = [item.get("revenue_yen") for item in incomes]
    return {
        "as_of": envelope.get("as_of"),
        "agency": envelope.get("agency"),
        "municipality": (data.get("municipality") or {}).get("name"),
        "latest": latest,
        "incomes": incomes,
        "revenue_yen": sum(revenues) if revenues and all(isinstance(v, int) for v in revenues) else None,
        "years": years,
    }


def _address_text(value: Any) -> str | None:
    if isinstance(value, dict):
        value = value.get("formatted") or " ".join(str(v) for v in value.values() if isinstance(v, str))
    return value if isinstance(value, str) and value else None


def _applicant(userinfo: dict[str, Any] | None) -> dict[str, Any] | None:
    if not userinfo:
        return None
    return {
        "name": userinfo.get("name"),
        "birth_date": userinfo.get("birthdate") or userinfo.get("birth_date"),
        "address": _address_text(userinfo.get("address")),
    }


def create_app(
    settings: Settings | None = None,
    *,
    portal_transport: httpx.AsyncBaseTransport | None = None,
    sleep: service.Sleep = asyncio.sleep,
) -> FastAPI:
    """The FastAPI app. ``portal_transport`` stands in for the portal in tests, ``sleep`` for waiting."""
    settings = settings or Settings.from_env()
    key = bank_key(settings)
    store = BankStore(settings.db_path)
    client = PortalClient(settings, key, transport=portal_transport)
    secret = os.environ.get("BANK_SECRET_KEY", "").encode() or secrets.token_bytes(32)
    app = FastAPI(title="Sakura Bank (sample firm)", docs_url=None, redoc_url=None)
    app.state.settings = settings
    app.state.store = store
    app.state.client = client

    def csrf_token(session_id: str) -> str:
        return hmac.new(secret, session_id.encode(), hashlib.sha256).hexdigest()

    def form_allowed(request: Request, token: str) -> bool:
        session_id = request.cookies.get(SESSION_COOKIE, "")
        if not session_id or not hmac.compare_digest(csrf_token(session_id), token):
            return False
        origin = request.headers.get("origin")
        return origin is None or origin.rstrip("/") == f"{request.url.scheme}://{request.headers.get('host')}"

    def page(request: Request, name: str, context: dict[str, Any], status_code: int = 200) -> Response:
        session_id = request.cookies.get(SESSION_COOKIE) or secrets.token_urlsafe(32)
        context = {
            "csrf_token": csrf_token(session_id),
            "settings": settings,
            "scope": SCOPE,
            "purpose": PURPOSE,
            "end_reasons": END_REASONS,
            **context,
        }
        response = TEMPLATES.TemplateResponse(request, name, context, status_code=status_code)
        response.headers["Cache-Control"] = "no-store"
        response.headers["X-Frame-Options"] = "DENY"
        # same-origin, not no-referrer: under no-referrer Chromium sends `Origin: null` with the bank's own
        # form posts, which the origin check refuses; the portal still never sees the bank's URLs.
        response.headers["Referrer-Policy"] = "same-origin"
        response.headers["Content-Security-Policy"] = (
            "default-src 'none'; style-src 'unsafe-inline'; form-action 'self' "
            f"{settings.portal_url}; frame-ancestors 'none'"
        )
        if request.cookies.get(SESSION_COOKIE) != session_id:
            response.set_cookie(SESSION_COOKIE, session_id, httponly=True, samesite="lax", path="/")
        return response

    def problem_page(request: Request, problem: BankProblem) -> Response:
        return page(request, "problem.html", {"problem": problem}, problem.status_code)

    def current_application(request: Request) -> service.Application | None:
        session_id = request.cookies.get(SESSION_COOKIE)
        return store.application_latest(session_id) if session_id else None

    @app.get("/healthz")
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/.well-known/jwks.json")
    def jwks() -> dict[str, Any]:
        return {"keys": [public_jwk(key)]}

    @app.get("/", response_class=HTMLResponse)
    def index(request: Request) -> Response:
        return page(
            request,
            "index.html",
            {"application": current_application(request), "events": store.consent_events()},
        )

    @app.post("/start")
    async def start(request: Request, csrf_token: str = Form("")) -> Response:
        if not form_allowed(request, csrf_token):
            return problem_page(request, BankProblem("csrf"))
        try:
            redirect_to = await service.application_start(
                store=store, client=client, session_id=request.cookies[SESSION_COOKIE]
            )
        except BankProblem as problem:
            return problem_page(request, problem)
        return RedirectResponse(redirect_to, status_code=303)

    @app.get("/callback")
    async def callback(request: Request) -> Response:
        params = {name: value for name, value in request.query_params.items()}
        try:
            await service.callback_receive(
                store=store, client=client, session_id=request.cookies.get(SESSION_COOKIE), params=params
            )
        except BankProblem as problem:
            return problem_page(request, problem)
        return RedirectResponse("/application", status_code=303)

    @app.get("/application", response_class=HTMLResponse)
    async def application_page(request: Request) -> Response:
        application = current_application(request)
        if application is None:
            return problem_page(request, BankProblem("application_missing"))
        application = await service.applicant_read(
            store=store, client=client, application=application, sleep=sleep
        )
        return page(
            request,
            "application.html",
            {
                "application": application,
                "problem": BankProblem.from_dict(application.problem) if application.problem else None,
                "last_check": application.last_check,
                "last_check_problem": BankProblem.from_dict(application.last_check["problem"])
                if application.last_check and application.last_check.get("problem")
                else None,
                "income": _income_summary(application.income),
                "applicant": _applicant(application.userinfo),
                "events": store.consent_events(subject=application.subject) if application.subject else [],
                "category": INCOME_CATEGORY,
            },
        )

    @app.post("/application/check-again")
    async def check_again(request: Request, csrf_token: str = Form("")) -> Response:
        if not form_allowed(request, csrf_token):
            return problem_page(request, BankProblem("csrf"))
        application = current_application(request)
        if application is None:
            return problem_page(request, BankProblem("application_missing"))
        try:
            await service.applicant_check_again(
                store=store, client=client, application=application, sleep=sleep
            )
        except BankProblem as problem:
            return problem_page(request, problem)
        return RedirectResponse("/application#check", status_code=303)

    @app.post("/consent-events")
    async def consent_events(request: Request) -> Response:
        content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if content_type != "application/jwt":
            return JSONResponse({"error": "unsupported_media_type"}, status_code=415)
        body = await request.body()
        if len(body) > MAX_EVENT_BYTES:
            return JSONResponse({"error": "too_large"}, status_code=413)
        try:
            await service.consent_event_receive(
                store=store, client=client, token=body.decode("ascii").strip()
            )
        except (ConsentEventInvalid, UnicodeDecodeError) as error:
            return JSONResponse({"error": "invalid_jwt", "detail": str(error)}, status_code=400)
        except BankProblem as problem:
            # Our side cannot check it now (the portal's keys are out of reach): let the portal re-send.
            return JSONResponse({"error": problem.code}, status_code=503, headers={"Retry-After": "30"})
        return Response(status_code=204)

    return app
