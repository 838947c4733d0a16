"""While a proxy acts for someone, only the pages that can be limited by a scope are open; everything
else (settings, the proxy's own account, changes of any kind) waits until they switch back.

The one change a proxy may make is answering a notice, under the scope to answer: its path, and the
signature step-up it leads to (the proxy's own card, for an answer only), open under that scope alone.
"""

import re
from collections.abc import Callable

from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect

from notices.services import RESPOND_ACT
from portal.core.middleware import error_response
from portal.identity.models import SigningKind, SigningRequest
from portal.proxies.access import Acting, acting_for, out_of_scope
from portal.proxies.scopes import NOTICES_ANSWER

OPEN_WHILE_ACTING = ("/myinfo/", "/notices/", "/history/", "/proxies/", "/logout/", "/static/", "/i18n/")
OPEN_EXACT = ("/account/", "/account/status.json", "/sw.js", "/healthz", "/readyz")
CLOSED_WHILE_ACTING = ("/myinfo/export", "/history/export", "/history/alerts")
_UUID = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
ANSWER_PATH = re.compile(rf"/notices/{_UUID}/respond/")
STEPUP_PAGE = re.compile(rf"/stepup/(?P<request_id>{_UUID})/")
# The card app's side of a signing request and the waiting page's poll: the card's signature or the
# browser's own key authenticates these, not the acting session.
SIGNING_PATH = re.compile(rf"/signing/{_UUID}/(response/|status/)?")


def _answer_stepup(acting: Acting, request_id: str) -> bool:
    """The step-up page is open to a proxy only for signing an answer of their own making."""
    return SigningRequest.objects.filter(
        pk=request_id, kind=SigningKind.STEPUP, act=RESPOND_ACT, resident=acting.proxy
    ).exists()


def _open_to(acting: Acting, request: HttpRequest) -> bool:
    path = request.path
    if ANSWER_PATH.fullmatch(path) or SIGNING_PATH.fullmatch(path):
        return acting.allows(NOTICES_ANSWER)
    stepup = STEPUP_PAGE.fullmatch(path)
    if stepup:
        return acting.allows(NOTICES_ANSWER) and _answer_stepup(acting, stepup["request_id"])
    if path.startswith(CLOSED_WHILE_ACTING):
        return False
    return path.startswith(OPEN_WHILE_ACTING) or path in OPEN_EXACT


class ActingForMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        acting = acting_for(request) if request.user.is_authenticated else None
        if acting is not None and not _open_to(acting, request):
            if ANSWER_PATH.fullmatch(request.path):
                # Said, not redirected: a proxy who tried to answer should read why they may not.
                return error_response(request, out_of_scope(NOTICES_ANSWER))
            return redirect("proxies:list")
        return self.get_response(request)


def acting_context(request: HttpRequest) -> dict:
    """For the banner on every page."""
    if not getattr(request, "user", None) or not request.user.is_authenticated:
        return {}
    return {"acting": acting_for(request)}
