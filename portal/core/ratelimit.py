"""A fixed-window rate limit in the shared cache, for endpoints that anyone can call."""

import hashlib
import time

from django.http import HttpRequest

from portal.core.cache import counter_incr
from portal.core.errors import PortalError


def client_address(request: HttpRequest) -> str:
    return request.META.get("REMOTE_ADDR", "unknown")


def rate_limit(*, scope: str, key: str, limit: int, window_seconds: int) -> None:
    """Raises a 429 PortalError once `key` has made more than `limit` calls in the current window."""
    window = int(time.time() // window_seconds)
    digest = hashlib.sha256(key.encode()).hexdigest()[:32]
    cache_key = f"ratelimit:{scope}:{digest}:{window}"
    count = counter_incr(cache_key, window_seconds + 5)
    if count > limit:
        raise PortalError(
            code="rate_limited",
            message_ja="短時間に多くの要求がありました。しばらく待ってからお試しください。",
            message_en="Too many requests in a short time. Please wait a moment and try again.",
            status=429,
            extra={"retry_after": window_seconds},
        )
