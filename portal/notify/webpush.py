"""The only client of the push services (Web Push, RFC 8030): VAPID (RFC 8292), payload encryption
(RFC 8291, aes128gcm) through pywebpush, timeouts, and answers sorted into gone, retryable or refused.

It never follows a redirect and never sends anything but the encrypted payload it is given.
"""

import threading
import time
from urllib.parse import urlsplit

import requests
from django.conf import settings
from pywebpush import WebPushException, webpush

from portal.notify.vapid import vapid_signer

# A VAPID token lives this long (RFC 8292 allows at most 24 hours).
VAPID_TOKEN_SECONDS = 12 * 60 * 60


class PushError(Exception):
    code = "push_error"

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


class PushGone(PushError):
    """404 or 410: the subscription no longer exists; remove it (RFC 8030 section 7.3)."""


class PushRetryable(PushError):
    """The push service is busy, down or unreachable: try again later."""


class PushRefused(PushError):
    """The push service refused this message for good (bad request, VAPID mismatch, redirect)."""


class _PushSession(requests.Session):
    """Keeps connections alive; never follows a redirect; trusts `verify` over REQUESTS_CA_BUNDLE."""

    def request(self, method, url, *args, **kwargs):  # type: ignore[override]
        kwargs["allow_redirects"] = False
        kwargs.setdefault("verify", self.verify)
        return super().request(method, url, *args, **kwargs)


_local = threading.local()


def _session() -> requests.Session:
    """One session per thread, so connections to a push service are kept alive between messages."""
    session = getattr(_local, "session", None)
    verify = settings.WEBPUSH_CA_BUNDLE or True
    if session is None or session.verify != verify:
        session = _PushSession()
        session.verify = verify
        _local.session = session
    return session


def endpoint_origin(endpoint: str) -> str:
    parts = urlsplit(endpoint)
    return f"{parts.scheme}://{parts.netloc}"


def push_send(*, endpoint: str, p256dh: str, auth: str, payload: str, topic: str, ttl: int) -> int:
    """Encrypts and posts one message; returns the push service's status (200-202) or raises PushError."""
    claims: dict[str, str | int] = {
        "sub": settings.VAPID_SUBJECT,
        "aud": endpoint_origin(endpoint),
        "exp": int(time.time()) + VAPID_TOKEN_SECONDS,
    }
    try:
        response = webpush(
            subscription_info={"endpoint": endpoint, "keys": {"p256dh": p256dh, "auth": auth}},
            data=payload,
            vapid_private_key=vapid_signer(),
            vapid_claims=claims,
            ttl=ttl,
            timeout=settings.WEBPUSH_TIMEOUT_SECONDS,
            # One topic per kind: a device that was offline gets the latest message, not a pile of them.
            headers={"Urgency": "normal", "Topic": topic},
            requests_session=_session(),
        )
    except WebPushException as exc:
        status = exc.status_code
        if status in (404, 410):
            raise PushGone(f"http_{status}") from exc
        if status is None:
            raise PushRefused("bad_subscription") from exc
        if 300 <= status < 400:
            raise PushRefused("redirect") from exc
        if status == 429 or status >= 500:
            raise PushRetryable(f"http_{status}") from exc
        raise PushRefused(f"http_{status}") from exc
    except requests.Timeout as exc:
        raise PushRetryable("timeout") from exc
    except requests.RequestException as exc:
        raise PushRetryable("unreachable") from exc
    return response.status_code
