"""Turns a PortalError escaping a page view into a readable page (APIs use api.errors instead), the
shared cache being unreachable into a 503 that says so, never a 500, and refuses parameters that no
database column can hold (a NUL character) before any view reads them."""

import logging
from collections.abc import Callable

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render

from portal.core.errors import PortalError
from portal.core.outages import SHARED_CACHE_UNREACHABLE

logger = logging.getLogger(__name__)


def temporarily_unavailable() -> PortalError:
    return PortalError(
        code="temporarily_unavailable",
        message_ja=(
            "ただいまシステムの一部が停止しているため、お手続きできません。"
            "しばらくしてからもう一度お試しください。"
        ),
        message_en=(
            "Part of the system is down at the moment, so this cannot be done. Please try again in a while."
        ),
        status=503,
    )


class PortalErrorMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if isinstance(exception, SHARED_CACHE_UNREACHABLE):
            # What needs the cache to be safe (replay checks, rate limits) refuses; the person is told why.
            logger.error("shared cache unreachable on %s", request.path, exc_info=exception)
            exception = temporarily_unavailable()
        if not isinstance(exception, PortalError):
            return None
        return error_response(request, exception)


def error_response(request: HttpRequest, error: PortalError) -> HttpResponse:
    """The refusal as a page, or as JSON for a caller that asked for JSON; also for other middleware."""
    if request.headers.get("Accept", "").startswith("application/json"):
        return JsonResponse(error.as_json(), status=error.status)
    return render(request, "error.html", {"error": error}, status=error.status)


# Callers of these speak JSON (the card app, firms, agencies): a refusal is JSON, and for OAuth clients
# it carries the standard error and error_description too.
JSON_PATHS = ("/api/", "/oauth/", "/signing/")
FORM_BODIES = ("application/x-www-form-urlencoded", "multipart/form-data")


def nul_character_refused() -> PortalError:
    return PortalError(
        code="invalid_request",
        message_ja="送信された内容に、使えない文字（NUL 文字）が含まれています。入力を確かめてください。",
        message_en="What was sent contains a character that cannot be used (NUL). Please check your input.",
        status=400,
    )


def _holds_nul(params) -> bool:
    return any("\x00" in key or any("\x00" in value for value in params.getlist(key)) for key in params)


class UnstorableInputMiddleware:
    """PostgreSQL text cannot hold NUL, so a NUL in a query string or form field would end as a 500
    wherever a view looks it up or stores it. No person types one: the request is refused whole.

    A multipart body is read only for views that take the CSRF token (that check reads it anyway):
    reading it for an exempt view would leave request.body unreadable to a view that wants the raw body.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_view(self, request: HttpRequest, view_func: Callable, view_args: tuple, view_kwargs: dict):
        refused = _holds_nul(request.GET)
        if not refused and request.method == "POST" and request.content_type in FORM_BODIES:
            urlencoded = request.content_type == FORM_BODIES[0]
            if urlencoded or not getattr(view_func, "csrf_exempt", False):
                refused = _holds_nul(request.POST)
        if not refused:
            return None
        error = nul_character_refused()
        if request.path.startswith(JSON_PATHS):
            body = {**error.as_json(), "error_description": error.message_en}
            return JsonResponse(body, status=error.status)
        return error_response(request, error)
