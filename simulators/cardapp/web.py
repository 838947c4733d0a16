"""The card app's web pages (the smartphone app's screens) and the CA's publication point.

Pages are Jinja2 templates, Japanese first with English beside it. Forms are protected by a signed
double-submit CSRF token (cookie + HMAC of it in the form) and, when the browser sends one, an Origin check.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import os
import secrets
import threading
from pathlib import Path
from typing import Any

import httpx
from cryptography import x509
from fastapi import FastAPI, Form, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from starlette.concurrency import run_in_threadpool

from simulators.ca import CERT_FILE, CRL_FILE, TestCA
from simulators.cardapp.card import CardStore
from simulators.cardapp.client import PortalClient, origin_of
from simulators.cardapp.config import Settings
from simulators.cardapp.errors import (
    CERT_NAMES,
    PortalUnreachable,
    RequestExpired,
    SigningError,
    UnknownCard,
)
from simulators.cardapp.service import Outcome, approve

TEMPLATES = Jinja2Templates(directory=str(Path(__file__).parent / "templates"))
# The app stands for a resident's phone in Japan: times as its clock shows them.
JAPAN_TIME = dt.timezone(dt.timedelta(hours=9), "JST")
TEMPLATES.env.filters["japan_time"] = lambda moment: moment.astimezone(JAPAN_TIME).strftime("%Y-%m-%d %H:%M")
CSRF_COOKIE = "cardapp_csrf"
# Card errors after which typing again makes sense (not locked, expired or missing certificate).
RETRYABLE = {"wrong_secret", "invalid_secret_format", "unknown_card", "wrong_secret_kind"}
# Reissue the CRL when it has less than this left, so relying parties never see a stale one.
CRL_REFRESH_MARGIN = dt.timedelta(hours=1)


class _Csrf:
    def __init__(self, secret: bytes) -> None:
        self._secret = secret

    def token_for(self, cookie: str) -> str:
        return hmac.new(self._secret, cookie.encode(), hashlib.sha256).hexdigest()

    def valid(self, request: Request, token: str) -> bool:
        cookie = request.cookies.get(CSRF_COOKIE, "")
        if not cookie or not token or not hmac.compare_digest(self.token_for(cookie), token):
            return False
        # Browsers send Origin on POST; when present it must be this app itself.
        origin = request.headers.get("origin")
        if origin is not None:
            own = f"{request.url.scheme}://{request.headers.get('host', '')}"
            return origin_of(origin) == origin_of(own)
        return True


def create_app(
    settings: Settings | None = None, *, portal_transport: httpx.BaseTransport | None = None
) -> FastAPI:
    """The FastAPI app; ``portal_transport`` lets tests stand in for the portal."""
    settings = settings or Settings.from_env()
    store = CardStore(settings.db_path)
    client = PortalClient(settings.allowed_origins, settings.http_timeout, portal_transport)
    secret = os.environ.get("CARDAPP_SECRET_KEY", "").encode() or secrets.token_bytes(32)
    csrf = _Csrf(secret)
    crl_lock = threading.Lock()
    app = FastAPI(title="JPKI card app simulator", docs_url=None, redoc_url=None)

    def page(request: Request, name: str, context: dict[str, Any], status_code: int = 200) -> Response:
        cookie = request.cookies.get(CSRF_COOKIE) or secrets.token_urlsafe(32)
        context = {"csrf_token": csrf.token_for(cookie), "cert_names": CERT_NAMES, **context}
        response = TEMPLATES.TemplateResponse(request, name, context, status_code=status_code)
        response.headers["Cache-Control"] = "no-store"
        response.headers["X-Frame-Options"] = "DENY"
        response.headers["Content-Security-Policy"] = (
            "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'"
        )
        if request.cookies.get(CSRF_COOKIE) != cookie:
            response.set_cookie(CSRF_COOKIE, cookie, httponly=True, samesite="strict", path="/")
        return response

    def error_page(request: Request, error: SigningError, status: str, status_code: int) -> Response:
        return page(
            request,
            "result.html",
            {"status": status, "code": error.code, "message": error.message, "outcome": None},
            status_code,
        )

    def forbidden(request: Request) -> Response:
        error = SigningError(
            "フォームの有効期限が切れたか、不正な送信です。ページを開き直してください。",
            "The form expired or was not sent from this app. Reload the page and try again.",
        )
        error.code = "csrf"  # type: ignore[misc]
        return error_page(request, error, "request-error", 403)

    @app.get("/healthz")
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/", response_class=HTMLResponse)
    def index(request: Request) -> Response:
        return page(request, "index.html", {"cards": store.all()})

    @app.get("/api/cards")
    def cards_json() -> list[dict[str, Any]]:
        return [
            {
                "id": card.id,
                "name": card.display_name,
                "signature": card.has_signature,
                "pin_tries_left": card.pin_tries_left,
                "auth_locked": card.auth_locked,
                "password_tries_left": card.password_tries_left,
                "signature_locked": card.signature_locked,
                "revoked": card.revoked,
            }
            for card in store.all()
        ]

    @app.get("/ca/ca-cert.pem")
    def ca_cert() -> Response:
        path = settings.ca_dir / CERT_FILE
        if not path.exists():
            return Response("no CA yet; run init\n", status_code=404, media_type="text/plain")
        return Response(path.read_bytes(), media_type="application/x-pem-file")

    @app.get("/ca/crl.der")
    def crl() -> Response:
        path = settings.ca_dir / CRL_FILE
        with crl_lock:
            data = path.read_bytes() if path.exists() else b""
            try:
                current = x509.load_der_x509_crl(data)
                next_update = current.next_update_utc
            except ValueError:
                next_update = None
            now = dt.datetime.now(dt.UTC)
            if next_update is None or next_update - now < CRL_REFRESH_MARGIN:
                # Load from disk each time: another process (init, a test) may have revoked meanwhile.
                TestCA.load(settings.ca_dir, crl_url=settings.crl_url).save(settings.ca_dir)
                data = path.read_bytes()
        return Response(data, media_type="application/pkix-crl", headers={"Cache-Control": "no-cache"})

    @app.get("/approve", response_class=HTMLResponse)
    def approve_form(request: Request, request_url: str = Query("", alias="request")) -> Response:
        try:
            signing_request = client.fetch_request(request_url)
            if signing_request.is_expired():
                raise RequestExpired()
        except SigningError as error:
            status_code = 502 if isinstance(error, PortalUnreachable) else 400
            return error_page(request, error, "request-error", status_code)
        return page(
            request,
            "approve.html",
            {"req": signing_request, "request_url": request_url, "cards": store.all()},
        )

    @app.post("/approve", response_class=HTMLResponse)
    def approve_submit(
        request: Request,
        request_url: str = Form("", alias="request"),
        summary_sha256: str = Form(""),
        card: str = Form(""),
        secret: str = Form(""),
        csrf_token: str = Form(""),
    ) -> Response:
        if not csrf.valid(request, csrf_token):
            return forbidden(request)
        if not card:
            return error_page(request, UnknownCard("(none)"), "card-error", 400)
        outcome = approve(
            store, client, request_url, card, secret, expected_summary_sha256=summary_sha256 or None
        )
        return page(
            request,
            "result.html",
            {
                "status": outcome.status,
                "code": outcome.code,
                "message": outcome.message,
                "outcome": outcome,
                "retry_url": request_url if outcome.code in RETRYABLE else "",
            },
            _status_code(outcome),
        )

    @app.post("/api/approve")
    async def approve_json(request: Request) -> JSONResponse:
        # JSON only: a cross-site form cannot send application/json without a CORS preflight we never allow.
        if request.headers.get("content-type", "").split(";")[0].strip() != "application/json":
            return JSONResponse({"error": "unsupported_media_type"}, status_code=415)
        try:
            body = await request.json()
        except ValueError:
            body = None
        if not isinstance(body, dict) or not all(
            isinstance(body.get(k), str) for k in ("request_url", "card", "secret")
        ):
            return JSONResponse(
                {"error": "bad_request", "message": "request_url, card and secret (strings) are required"},
                status_code=400,
            )
        outcome = await run_in_threadpool(
            approve, store, client, body["request_url"], body["card"], body["secret"]
        )
        return JSONResponse(outcome.as_json(), status_code=_status_code(outcome))

    @app.post("/cards/{card_id}/reset")
    def reset(request: Request, card_id: str, csrf_token: str = Form("")) -> Response:
        if not csrf.valid(request, csrf_token):
            return forbidden(request)
        try:
            store.reset(card_id)
        except UnknownCard as error:
            return error_page(request, error, "card-error", 404)
        return RedirectResponse(f"/?reset={card_id}", status_code=303)

    return app


def _status_code(outcome: Outcome) -> int:
    if outcome.status == "accepted":
        return 200
    if outcome.code == "portal_unreachable":
        return 502
    if outcome.status == "refused":
        return 409
    return 400
