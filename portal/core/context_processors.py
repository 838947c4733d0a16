"""What every page template may use: the logged-in resident (or None), the idle timeout and, for a
resident, the number of unread notices (computed only when a template shows it, then cached)."""

from django.conf import settings
from django.http import HttpRequest
from django.utils.functional import SimpleLazyObject


def _unread_notices(resident: object) -> SimpleLazyObject:
    from notices.selectors import notice_unread_count

    return SimpleLazyObject(lambda: notice_unread_count(resident=resident))


def portal(request: HttpRequest) -> dict:
    # DRF-rendered pages (the API docs) may carry no user at all when unauthenticated.
    user = getattr(request, "user", None)
    resident = getattr(user, "resident", None) if user is not None and user.is_authenticated else None
    return {
        "resident": resident,
        "session_idle_timeout": settings.SESSION_IDLE_TIMEOUT,
        "unread_notices": _unread_notices(resident) if resident is not None else None,
    }
