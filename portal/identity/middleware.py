"""Ends idle sessions (SPEC 4: default 15 minutes), residents' and staff's alike, and sessions revoked
after a refused step-up."""

import time
from collections.abc import Callable

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import logout
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.utils.translation import gettext as _

SESSION_LOGIN_AT = "portal_login_at"
SESSION_LAST_SEEN = "portal_last_seen"
# Write the last-seen time at most this often: a session write per request would cost every page.
LAST_SEEN_GRANULARITY = 30


class IdleTimeoutMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user = request.user
        if user.is_authenticated:
            now = time.time()
            # Card logins set both at login; other logins (staff, auditors) are timed from their first page.
            last_seen = request.session.setdefault(SESSION_LAST_SEEN, now)
            login_at = request.session.setdefault(SESSION_LOGIN_AT, now)
            revoked_after = user.sessions_valid_after.timestamp() if user.sessions_valid_after else 0
            if now - last_seen > settings.SESSION_IDLE_TIMEOUT or login_at < revoked_after:
                idle = now - last_seen > settings.SESSION_IDLE_TIMEOUT
                logout(request)
                messages.info(
                    request,
                    _("一定時間操作がなかったため、安全のためログアウトしました。")
                    if idle
                    else _("安全のためログアウトしました。"),
                )
                return redirect("identity:login" if hasattr(user, "resident") else "admin:login")
            if now - last_seen > LAST_SEEN_GRANULARITY:
                request.session[SESSION_LAST_SEEN] = now
        return self.get_response(request)
