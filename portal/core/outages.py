"""Redis, the shared cache and the broker, may be down or restarting: the errors that say so, and a check.

What can carry on without the cache catches :data:`SHARED_CACHE_UNREACHABLE`: a value the database gives
again (the session, the unread count), state that may be forgotten (an agency's breaker). What must not
(replayed client assertions, rate limits) lets the error through, and PortalErrorMiddleware answers 503
with a message instead of a 500. Work that cannot be queued (:data:`BROKER_UNREACHABLE`) is left in a
state that says so, never "under way".
"""

import kombu.exceptions
import redis

# BusyLoadingError (a restarted Redis still reading its append-only file) is a ConnectionError too.
SHARED_CACHE_UNREACHABLE: tuple[type[Exception], ...] = (
    redis.exceptions.ConnectionError,
    redis.exceptions.TimeoutError,
)
# Celery re-raises a transport's connection errors as kombu's OperationalError once its publish retries
# are spent; OSError covers a socket refused before kombu wraps it.
BROKER_UNREACHABLE: tuple[type[Exception], ...] = (kombu.exceptions.OperationalError, OSError)


def broker_check() -> None:
    """Raises unless a fresh connection to the broker can be made now (at most one retry, 2 s)."""
    from portal.celery import app

    with app.connection_for_write() as conn:
        conn.ensure_connection(max_retries=1, timeout=2)


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
            pinger = _broker_pingers.setdefault(
                url, redis.Redis.from_url(url, socket_connect_timeout=1, socket_timeout=1)
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
