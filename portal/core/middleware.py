"""Turns a PortalError escaping a page view into a readable page (APIs use api.errors instead), and the
shared cache being unreachable into a 503 that says so, never a 500."""

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
