"""While a proxy acts for someone, only the pages that can be limited by a scope are open; everything
else (settings, the proxy's own account, changes of any kind) waits until they switch back."""

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect

from portal.proxies.access import acting_for

OPEN_WHILE_ACTING = ("/myinfo/", "/notices/", "/history/", "/proxies/", "/logout/", "/static/", "/i18n/")
OPEN_EXACT = ("/account/", "/account/status.json", "/sw.js", "/healthz", "/readyz")


class ActingForMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        acting = acting_for(request) if request.user.is_authenticated else None
        if acting is not None:
            path = request.path
            exports = path.startswith(("/myinfo/export", "/history/export", "/history/alerts"))
            if exports or not (path.startswith(OPEN_WHILE_ACTING) or path in OPEN_EXACT):
                return redirect("proxies:list")
        return self.get_response(request)


def acting_context(request: HttpRequest) -> dict:
    """For the banner on every page."""
    if not getattr(request, "user", None) or not request.user.is_authenticated:
        return {}
    return {"acting": acting_for(request)}
