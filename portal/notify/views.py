"""/settings/notifications/ (preferences, devices, e-mail), the subscription endpoint the page's script
posts to, the e-mail confirmation link, and the service worker at /sw.js.

Thin: parsing and rendering here, rules in services. The pages work without JavaScript; only
subscribing this browser to pushes needs it (the browser's Push API has no other door).
"""

from functools import lru_cache

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.contrib.staticfiles import finders
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.utils.translation import get_language
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from portal.core.bodies import declared_length_fits
from portal.core.errors import PortalError
from portal.core.ratelimit import rate_limit
from portal.history.models import Channel
from portal.history.services import Actor, release_record
from portal.notify import selectors, services
from portal.notify.forms import EmailForm, PreferenceForm
from portal.notify.vapid import vapid_public_key

MAX_TOKEN_LENGTH = 400


def _resident(request: HttpRequest):
    return getattr(request.user, "resident", None) if request.user.is_authenticated else None


def _language() -> str:
    return "en" if (get_language() or "ja").startswith("en") else "ja"


def _render_settings(request: HttpRequest, resident, *, form=None, email_form=None, error=None, status=200):
    preference = selectors.preference_get(resident=resident)
    if preference.email or preference.email_pending:
        # The address is the resident's personal data: its display is recorded before it is shown.
        release_record(
            owner=resident,
            actor=Actor.for_resident(resident),
            category="contact",
            items=["email"],
            purpose="notification_settings",
            channel=Channel.WEB,
        )
    devices = list(selectors.push_subscription_list(resident=resident))
    context = {
        "form": form or PreferenceForm.for_preference(preference),
        "email_form": email_form or EmailForm(),
        "preference": preference,
        "devices": devices,
        "endpoint_digests": " ".join(selectors.endpoint_digest(d.endpoint) for d in devices),
        "vapid_public_key": vapid_public_key(),
        "error": error,
    }
    return render(request, "notify/settings.html", context, status=status)


@never_cache
@login_required
@require_http_methods(["GET", "POST"])
def notification_settings(request: HttpRequest) -> HttpResponse:
    resident = _resident(request)
    if resident is None:  # staff accounts use the admin
        return redirect("admin:index")
    if request.method == "GET":
        return _render_settings(request, resident)
    form = PreferenceForm(request.POST)
    if not form.is_valid():
        return _render_settings(request, resident, form=form, status=400)
    services.preference_set(resident=resident, **form.preference_values(), language=_language())
    messages.success(request, _("通知の設定を保存しました。"))
    return redirect("notify:settings")


@never_cache
@login_required
@require_POST
def email_settings(request: HttpRequest) -> HttpResponse:
    resident = _resident(request)
    if resident is None:
        return redirect("admin:index")
    form = EmailForm(request.POST)
    if not form.is_valid():
        return _render_settings(request, resident, email_form=form, status=400)
    address = form.cleaned_data["email"]
    try:
        if address:
            # Each request sends a mail to an address the resident typed: not a way to send many.
            rate_limit(scope="notify-email-confirm", key=str(resident.pk), limit=5, window_seconds=3600)
        preference = services.email_address_set(resident=resident, address=address, language=_language())
    except PortalError as error:
        return _render_settings(request, resident, email_form=form, error=error, status=error.status)
    if preference.email_pending:
        messages.success(request, _("確認用のメールを送りました。メールのリンクを開くと登録が完了します。"))
    elif address:
        messages.success(request, _("このアドレスは登録済みです。"))
    else:
        messages.success(request, _("メールでの通知をやめました。"))
    return redirect("notify:settings")


@never_cache
@require_http_methods(["GET", "POST"])
def email_confirm(request: HttpRequest, token: str) -> HttpResponse:
    """Opened from the mail, perhaps in another browser: the signed token says whose address it is.

    GET only shows a button (mail scanners open links); POST confirms.
    """
    if len(token) > MAX_TOKEN_LENGTH:
        raise Http404
    if request.method == "GET":
        return render(request, "notify/email_confirm.html", {"done": False})
    try:
        services.email_address_confirm(token=token)
    except PortalError as error:
        return render(request, "notify/email_confirm.html", {"error": error}, status=error.status)
    return render(request, "notify/email_confirm.html", {"done": True})


def _json_error(error: PortalError) -> JsonResponse:
    return JsonResponse(error.as_json(), status=error.status)


def _json_body(request: HttpRequest) -> bytes:
    if request.content_type != "application/json":
        raise PortalError(
            "push_subscription_malformed",
            "通知の登録データは JSON で送ってください。",
            "Send the subscription as JSON.",
            400,
        )
    # Refuse by the declared length before reading: an oversized body is never read into memory.
    if not declared_length_fits(request, services.MAX_SUBSCRIPTION_BYTES):
        raise PortalError(
            "push_subscription_too_large",
            "通知の登録データが大きすぎます。",
            "The subscription is too large.",
            400,
        )
    return request.body


@never_cache
@require_http_methods(["POST", "DELETE"])
def push_subscription(request: HttpRequest) -> JsonResponse:
    """POST: this browser's PushSubscription JSON, to register it. DELETE: {"endpoint": ...} to forget it.

    The page's script sends the CSRF token in the X-CSRFToken header.
    """
    resident = _resident(request)
    if resident is None:
        return JsonResponse({"error": "login_required"}, status=403)
    try:
        rate_limit(scope="notify-push", key=str(resident.pk), limit=30, window_seconds=3600)
        body = _json_body(request)
        if request.method == "DELETE":
            endpoint = services.unsubscribe_parse(body)
            removed = services.push_subscription_remove(resident=resident, endpoint=endpoint)
            return JsonResponse({"status": "unsubscribed", "removed": removed})
        subscription = services.subscription_parse(body)
        services.push_subscription_save(
            resident=resident,
            subscription=subscription,
            user_agent=request.headers.get("User-Agent", ""),
            language=_language(),
        )
    except PortalError as error:
        return _json_error(error)
    return JsonResponse({"status": "subscribed"}, status=201)


@never_cache
@login_required
@require_POST
def push_device_delete(request: HttpRequest, subscription_id: int) -> HttpResponse:
    resident = _resident(request)
    if resident is None:
        return redirect("admin:index")
    if services.push_subscription_delete(resident=resident, subscription_id=subscription_id):
        messages.success(request, _("端末を削除しました。この端末には通知が届かなくなります。"))
    return redirect("notify:settings")


@lru_cache(maxsize=1)
def _service_worker_source() -> bytes:
    path = finders.find("js/sw.js")
    if not path:
        raise FileNotFoundError("static/js/sw.js")
    with open(path, "rb") as handle:
        return handle.read()


@require_GET
def service_worker(request: HttpRequest) -> HttpResponse:
    """Served from the root so that its scope is the whole portal (/)."""
    response = HttpResponse(_service_worker_source(), content_type="text/javascript; charset=utf-8")
    response["Service-Worker-Allowed"] = "/"
    # Browsers check for a new worker on navigation; a cached copy would delay a fix for a day.
    response["Cache-Control"] = "no-cache"
    return response
