"""The only client of the push services (Web Push, RFC 8030): VAPID (RFC 8292), payload encryption
(RFC 8291, aes128gcm) through pywebpush, timeouts, and answers sorted into gone, retryable or refused.

It never follows a redirect and never sends anything but the encrypted payload it is given. Every message
is encrypted on its own (a fresh key and salt); what is reused is the connection to a push service and
the signed VAPID token for it, which names only that service's origin, the portal's contact and an expiry
(nothing of any message), so it holds for every message to that origin until it expires.
"""

import threading
import time
from urllib.parse import urlsplit

import requests
from django.conf import settings
from pywebpush import WebPushException, webpush

from portal.notify.vapid import vapid_public_key, vapid_signer

# A VAPID token lives this long (RFC 8292 allows at most 24 hours) ...
VAPID_TOKEN_SECONDS = 12 * 60 * 60
# ... and is signed again once less than this is left, so a push service never sees one about to expire
# (a slow send, clocks a few minutes apart): a token serves one push service for 11 hours.
VAPID_RENEW_SECONDS = 60 * 60


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


# (push service origin, subject, the portal's public key) -> (exp, the Authorization header)
_vapid_tokens: dict[tuple[str, str, str], tuple[int, str]] = {}
_vapid_lock = threading.Lock()


def vapid_authorization(*, audience: str, now: float | None = None) -> str:
    """The ``vapid t=<JWT>,k=<key>`` header for a push service's origin (RFC 8292 section 3), signed once
    and reused until VAPID_RENEW_SECONDS before it expires. A new key or subject gets a new token."""
    now = int(time.time() if now is None else now)
    key = (audience, settings.VAPID_SUBJECT, vapid_public_key())
    with _vapid_lock:
        cached = _vapid_tokens.get(key)
        if cached is not None and cached[0] - now > VAPID_RENEW_SECONDS:
            return cached[1]
        expires = now + VAPID_TOKEN_SECONDS
        claims = {"sub": settings.VAPID_SUBJECT, "aud": audience, "exp": expires}
        header = vapid_signer().sign(claims)["Authorization"]
        _vapid_tokens[key] = (expires, header)
        return header


def push_send(*, endpoint: str, p256dh: str, auth: str, payload: str, topic: str, ttl: int) -> int:
    """Encrypts and posts one message; returns the push service's status (200-202) or raises PushError."""
    try:
        response = webpush(
            subscription_info={"endpoint": endpoint, "keys": {"p256dh": p256dh, "auth": auth}},
            data=payload,
            ttl=ttl,
            timeout=settings.WEBPUSH_TIMEOUT_SECONDS,
            headers={
                "Authorization": vapid_authorization(audience=endpoint_origin(endpoint)),
                "Urgency": "normal",
                # One topic per kind: a device that was offline gets the latest message, not a pile of them.
                "Topic": topic,
            },
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
