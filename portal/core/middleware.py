"""Turns a PortalError escaping a page view into a readable page (APIs use api.errors instead)."""

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render

from portal.core.errors import PortalError


class PortalErrorMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if not isinstance(exception, PortalError):
            return None
        return error_response(request, exception)


def error_response(request: HttpRequest, error: PortalError) -> HttpResponse:
    """The refusal as a page, or as JSON for a caller that asked for JSON; also for other middleware."""
    if request.headers.get("Accept", "").startswith("application/json"):
        return JsonResponse(error.as_json(), status=error.status)
    return render(request, "error.html", {"error": error}, status=error.status)
