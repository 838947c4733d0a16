"""Pages and endpoints of the card login, the user folder and the step-up. Thin: services do the work."""

import json
import time
from typing import Any
from urllib.parse import quote
from uuid import UUID

from django.conf import settings
from django.contrib.auth import login, logout
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from portal.core.errors import PortalError
from portal.core.ratelimit import client_address, rate_limit
from portal.identity import services
from portal.identity.middleware import SESSION_LAST_SEEN, SESSION_LOGIN_AT
from portal.identity.models import SigningKind, SigningRequest, SigningStatus
from portal.identity.qr import qr_svg

SESSION_BROWSER_KEY = "portal_browser_key"
# Where to go once logged in (a page that asked for a fresh login, such as a firm's consent screen).
SESSION_LOGIN_NEXT = "portal_login_next"
MAX_RESPONSE_BODY = 32_768


def browser_key_of(request: HttpRequest) -> str:
    key = request.session.get(SESSION_BROWSER_KEY)
    if not key:
        key = services.new_browser_key()
        request.session[SESSION_BROWSER_KEY] = key
    return key


def _card_app_link(request: HttpRequest, signing_request: SigningRequest) -> str:
    request_url = request.build_absolute_uri(reverse("identity:signing-request", args=[signing_request.id]))
    return f"{settings.CARDAPP_URL}/approve?request={quote(request_url, safe='')}"


def signing_context(
    request: HttpRequest, signing_request: SigningRequest, *, again_url: str
) -> dict[str, Any]:
    """What a waiting page shows. ``again_url`` is where the person starts over once this request can no
    longer be signed (expired, used or refused): reloading the page would only show the same request."""
    link = _card_app_link(request, signing_request)
    ended = signing_request.status != SigningStatus.PENDING or signing_request.is_expired
    return {
        "signing_request": signing_request,
        "signing_ended": ended and signing_request.status != SigningStatus.SIGNED,
        "again_url": again_url,
        "card_app_link": link,
        "qr_svg": qr_svg(link),
        "status_url": reverse("identity:signing-status", args=[signing_request.id]),
        "valid_minutes": max(1, settings.SIGNING_REQUEST_TTL // 60),
    }


def _start_session(request: HttpRequest, user: Any) -> HttpResponse:
    """Logs the user in and sends them on: to the page that asked for the login, or home."""
    browser_key = request.session.get(SESSION_BROWSER_KEY)
    next_url = request.session.get(SESSION_LOGIN_NEXT)
    login(request, user, backend="portal.identity.backends.PortalBackend")
    now = time.time()
    request.session[SESSION_LOGIN_AT] = now
    request.session[SESSION_LAST_SEEN] = now
    request.session.pop(SESSION_LOGIN_NEXT, None)
    if browser_key:
        request.session[SESSION_BROWSER_KEY] = browser_key
    if next_url and url_has_allowed_host_and_scheme(next_url, allowed_hosts={request.get_host()}):
        return redirect(next_url)
    return redirect("dashboard:home")


@never_cache
@require_GET
def login_page(request: HttpRequest) -> HttpResponse:
    if request.user.is_authenticated and hasattr(request.user, "resident"):
        return redirect("dashboard:home")
    rate_limit(scope="login-start", key=client_address(request), limit=60, window_seconds=60)
    signing_request = services.login_start(browser_key=browser_key_of(request))
    context = signing_context(request, signing_request, again_url=request.get_full_path())
    context["complete_url"] = reverse("identity:login-complete", args=[signing_request.id])
    return render(request, "identity/login.html", context)


@never_cache
@require_POST
def login_complete_view(request: HttpRequest, request_id: UUID) -> HttpResponse:
    try:
        outcome = services.login_complete(request_id=request_id, browser_key=browser_key_of(request))
    except PortalError as error:
        return render(request, "identity/login_failed.html", {"error": error}, status=error.status)
    if outcome.user is not None:
        return _start_session(request, outcome.user)
    return redirect("identity:register", request_id=outcome.register_request.id)


@never_cache
@require_http_methods(["GET", "POST"])
def register_page(request: HttpRequest, request_id: UUID) -> HttpResponse:
    if request.method == "POST":
        try:
            user = services.register_complete(request_id=request_id, browser_key=browser_key_of(request))
        except PortalError as error:
            return render(request, "identity/login_failed.html", {"error": error}, status=error.status)
        return _start_session(request, user)
    signing_request = SigningRequest.objects.filter(
        pk=request_id,
        kind=SigningKind.REGISTER,
        browser_key_hash=services.browser_key_hash(browser_key_of(request)),
    ).first()
    if signing_request is None:
        return redirect("identity:login")
    context = signing_context(request, signing_request, again_url=reverse("identity:login"))
    context["complete_url"] = reverse("identity:register", args=[signing_request.id])
    return render(request, "identity/register.html", context)


@never_cache
@require_http_methods(["GET", "POST"])
def logout_view(request: HttpRequest) -> HttpResponse:
    if request.method == "POST":
        resident = getattr(request.user, "resident", None) if request.user.is_authenticated else None
        if resident is not None:
            services.security_event_record("logout", resident=resident)
        logout(request)
        return render(request, "identity/logged_out.html")
    if not request.user.is_authenticated:
        return render(request, "identity/logged_out.html")
    return render(request, "identity/logout_confirm.html")


# --- the card app's side (server to server, JSON) ----------------------------------------------------


def _json_error(error: PortalError) -> JsonResponse:
    response = JsonResponse(error.as_json(), status=error.status)
    if "retry_after" in error.extra:
        response["Retry-After"] = str(error.extra["retry_after"])
    return response


@never_cache
@require_GET
def signing_request_json(request: HttpRequest, request_id: UUID) -> JsonResponse:
    signing_request = SigningRequest.objects.filter(pk=request_id, status=SigningStatus.PENDING).first()
    if signing_request is None or signing_request.is_expired:
        return _json_error(
            PortalError(
                "unknown_request",
                "この要求は見つからないか、期限が切れています。",
                "This request does not exist or has expired.",
                404,
            )
        )
    response_url = request.build_absolute_uri(reverse("identity:signing-response", args=[request_id]))
    return JsonResponse(
        services.signing_request_description(request=signing_request, response_url=response_url)
    )


@csrf_exempt  # The card app is another origin; the card's signature, not a cookie, authenticates the post.
@never_cache
@require_POST
def signing_response(request: HttpRequest, request_id: UUID) -> JsonResponse:
    try:
        rate_limit(scope="signing-response", key=client_address(request), limit=120, window_seconds=60)
        if len(request.body) > MAX_RESPONSE_BODY:
            raise PortalError("too_large", "送信データが大きすぎます。", "The data sent is too large.", 413)
        try:
            body = json.loads(request.body)
            jws = body["jws"]
        except (ValueError, KeyError, TypeError, RecursionError) as exc:  # RecursionError: nesting
            raise PortalError(
                "malformed_request",
                "送信データの形式が正しくありません。",
                "The data sent is malformed.",
                400,
            ) from exc
        services.signing_response_accept(request_id=request_id, jws=jws)
    except PortalError as error:
        return _json_error(error)
    return JsonResponse({"status": "accepted"})


@never_cache
@require_GET
def signing_status(request: HttpRequest, request_id: UUID) -> JsonResponse:
    """Polled by the waiting page of the browser that made the request (and only that browser)."""
    signing_request = SigningRequest.objects.filter(
        pk=request_id, browser_key_hash=services.browser_key_hash(browser_key_of(request))
    ).first()
    if signing_request is None:
        return _json_error(
            PortalError("unknown_request", "要求が見つかりません。", "Request not found.", 404)
        )
    status = signing_request.status
    body: dict[str, Any] = {"status": status}
    if status == SigningStatus.PENDING and signing_request.is_expired:
        body["status"] = "expired"
    if status == SigningStatus.REFUSED:
        body["message"] = services.signing_refusal_error(signing_request).as_json()["message"]
    return JsonResponse(body)


# --- step-up -----------------------------------------------------------------------------------------

STEPUP_PARAM = "stepup"


def signed_act(
    request: HttpRequest,
    *,
    act: str,
    payload: dict[str, Any],
    summary_ja: str,
    summary_en: str,
    next_url: str,
) -> services.StepUpProof | HttpResponse:
    """For feature views: proof that the session resident signed exactly this act, or a redirect to sign.

    A feature view calls it twice with the same act and payload: first it sends the browser to sign; the
    browser then comes back as a POST to `next_url?stepup=<id>`, and the signed request is confirmed once.
    Raises PortalError when the signature is missing, stale, used or for something else.
    """
    request_id = request.GET.get(STEPUP_PARAM)
    if request.method == "POST" and request_id:
        try:
            request_uuid = UUID(request_id)
        except ValueError as exc:
            raise PortalError(
                "unknown_request", "この要求は見つかりません。", "This request does not exist.", 404
            ) from exc
        return services.stepup_confirm(
            request_id=request_uuid,
            resident=request.user.resident,
            browser_key=browser_key_of(request),
            act=act,
            payload=payload,
        )
    return stepup_redirect(
        request, act=act, summary_ja=summary_ja, summary_en=summary_en, payload=payload, next_url=next_url
    )


def stepup_redirect(
    request: HttpRequest,
    *,
    act: str,
    summary_ja: str,
    summary_en: str,
    payload: dict[str, Any],
    next_url: str,
) -> HttpResponse:
    """For feature views: start a step-up for this act and send the browser to sign it.

    Once signed, the browser returns to `next_url?stepup=<id>`, where the feature calls
    services.stepup_confirm with the same act and payload before it acts.
    """
    signing_request = services.stepup_start(
        resident=request.user.resident,
        browser_key=browser_key_of(request),
        act=act,
        summary_ja=summary_ja,
        summary_en=summary_en,
        payload=payload,
    )
    request.session[f"stepup_next:{signing_request.id}"] = next_url
    # Where the act was asked for (its form), to start over from if this request expires.
    referer = request.headers.get("Referer", "")
    if referer and url_has_allowed_host_and_scheme(referer, allowed_hosts={request.get_host()}):
        request.session[f"stepup_back:{signing_request.id}"] = referer
    return redirect("identity:stepup", request_id=signing_request.id)


@never_cache
@login_required
@require_GET
def stepup_page(request: HttpRequest, request_id: UUID) -> HttpResponse:
    signing_request = SigningRequest.objects.filter(
        pk=request_id,
        kind=SigningKind.STEPUP,
        resident__user=request.user,
        browser_key_hash=services.browser_key_hash(browser_key_of(request)),
    ).first()
    if signing_request is None:
        return redirect("dashboard:home")
    next_url = request.session.get(f"stepup_next:{request_id}", reverse("dashboard:home"))
    if not url_has_allowed_host_and_scheme(next_url, allowed_hosts={request.get_host()}):
        next_url = reverse("dashboard:home")
    separator = "&" if "?" in next_url else "?"
    again_url = request.session.get(f"stepup_back:{request_id}", reverse("dashboard:home"))
    context = signing_context(request, signing_request, again_url=again_url)
    context["complete_url"] = f"{next_url}{separator}stepup={signing_request.id}"
    return render(request, "identity/stepup.html", context)
