from django.conf import settings
from django.http import HttpRequest


def portal(request: HttpRequest) -> dict:
    resident = getattr(request.user, "resident", None) if request.user.is_authenticated else None
    return {
        "resident": resident,
        "session_idle_timeout": settings.SESSION_IDLE_TIMEOUT,
    }
