"""Redis, the shared cache and the broker, may be down or restarting: the errors that say so, and a check.

What can carry on without the cache catches :data:`SHARED_CACHE_UNREACHABLE`: a value the database gives
again (the session, the unread count), state that may be forgotten (an agency's breaker). What must not
(replayed client assertions, rate limits) lets the error through, and PortalErrorMiddleware answers 503
with a message instead of a 500. Work that cannot be queued (:data:`BROKER_UNREACHABLE`) is left in a
state that says so, never "under way".
"""

import threading
import time
from typing import Any
from urllib.parse import urlsplit

import kombu.exceptions
import redis
from django.conf import settings

# BusyLoadingError (a restarted Redis still reading its append-only file) is a ConnectionError too.
SHARED_CACHE_UNREACHABLE: tuple[type[Exception], ...] = (
    redis.exceptions.ConnectionError,
    redis.exceptions.TimeoutError,
)
# Celery re-raises a transport's connection errors as kombu's OperationalError once its publish retries
# are spent; OSError covers a socket refused before kombu wraps it.
BROKER_UNREACHABLE: tuple[type[Exception], ...] = (kombu.exceptions.OperationalError, OSError)


# --- holding off from a Redis that failed ------------------------------------------------------------------
# A hung Redis (the process stopped, a network that drops packets) accepts connections and never answers:
# every call then waits its whole socket timeout. After one failure this process leaves that Redis alone
# for REDIS_UNREACHABLE_HOLD_SECONDS, failing at once as if it refused, so a page pays the timeout once
# per hold, not once per call. Kept per process and per server ("host:port"), never shared (it is about
# this process's view of the network).

_held_until: dict[str, float] = {}
_held_lock = threading.Lock()


def redis_address(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.hostname or 'localhost'}:{parts.port or 6379}"


def redis_hold_off(address: str) -> None:
    """This Redis just failed: leave it alone for the hold."""
    with _held_lock:
        _held_until[address] = time.monotonic() + settings.REDIS_UNREACHABLE_HOLD_SECONDS


def redis_held_off(address: str) -> bool:
    until = _held_until.get(address)
    if until is None:
        return False
    if time.monotonic() < until:
        return True
    with _held_lock:
        if _held_until.get(address) == until:
            del _held_until[address]
    return False


def redis_holds_clear() -> None:
    """Forget every hold (tests, and nothing else: a hold ends by itself)."""
    with _held_lock:
        _held_until.clear()


class HeldOffRedisError(redis.exceptions.ConnectionError):
    """Refused without trying: this Redis failed a moment ago."""


class HeldOffConnection(redis.connection.Connection):
    """redis-py's connection that refuses at once while its server is held off, and holds it off when a
    connect, a send or a read fails for the network (refused, reset, timed out)."""

    def _address(self) -> str:
        return f"{self.host}:{self.port}"

    def _guarded(self, call: Any, *args: Any, **kwargs: Any) -> Any:
        address = self._address()
        if redis_held_off(address):
            raise HeldOffRedisError(f"Redis at {address} failed a moment ago; not tried again yet")
        try:
            return call(*args, **kwargs)
        except (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError):
            redis_hold_off(address)
            raise

    def connect(self) -> None:
        self._guarded(super().connect)

    def send_packed_command(self, command: Any, check_health: bool = True) -> None:
        self._guarded(super().send_packed_command, command, check_health)

    def read_response(self, *args: Any, **kwargs: Any) -> Any:
        return self._guarded(super().read_response, *args, **kwargs)


def broker_address() -> str | None:
    """The broker's "host:port" when it is a Redis, else None (the demo's folders)."""
    from portal.celery import app

    url = app.conf.broker_write_url or app.conf.broker_url
    if isinstance(url, str) and url.startswith(("redis://", "rediss://")):
        return redis_address(url)
    return None


def broker_check() -> None:
    """Raises unless a fresh connection to the broker can be made now (at most one retry, 2 s)."""
    from portal.celery import app

    address = broker_address()
    if address is not None and redis_held_off(address):
        raise HeldOffRedisError(f"Redis at {address} failed a moment ago")
    try:
        with app.connection_for_write() as conn:
            conn.ensure_connection(max_retries=1, timeout=2)
    except Exception:
        if address is not None:
            redis_hold_off(address)
        raise


# One client (and connection pool) per broker URL and process: a page's PING reuses a connection.
_broker_pingers: dict[str, redis.Redis] = {}


def broker_reachable() -> bool:
    """Whether work can be queued now; for pages that start work and must say when they cannot.

    A Redis broker answers a PING on a pooled connection (as cheap as a cache read; a fresh kombu
    connection cost 8 times that, and 2 s when refused); another transport (the demo's folders) is
    checked as /readyz does.
    """
    from portal.celery import app

    url = app.conf.broker_write_url or app.conf.broker_url
    if url.startswith(("redis://", "rediss://")):
        pinger = _broker_pingers.get(url)
        if pinger is None:
            timeout = settings.REDIS_SOCKET_TIMEOUT_SECONDS
            pinger = _broker_pingers.setdefault(
                url,
                redis.Redis.from_url(
                    url,
                    socket_connect_timeout=timeout,
                    socket_timeout=timeout,
                    connection_class=HeldOffConnection,
                ),
            )
        try:
            return bool(pinger.ping())
        except redis.exceptions.RedisError:
            return False
    try:
        broker_check()
    except Exception:  # whatever the transport raises, the answer is no
        return False
    return True
