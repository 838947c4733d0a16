"""What every page template may use: the logged-in resident (or None) and the idle timeout."""

from django.conf import settings
from django.http import HttpRequest


def portal(request: HttpRequest) -> dict:
    # DRF-rendered pages (the API docs) may carry no user at all when unauthenticated.
    user = getattr(request, "user", None)
    resident = getattr(user, "resident", None) if user is not None and user.is_authenticated else None
    return {
        "resident": resident,
        "session_idle_timeout": settings.SESSION_IDLE_TIMEOUT,
    }
