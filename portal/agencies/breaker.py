"""A circuit breaker per agency, kept in the shared cache (Redis) so every worker sees the same state.

Closed: calls go through and consecutive failures are counted. After ``AGENCY_BREAKER_FAILURES`` in a row
it opens: calls fail at once, without touching the agency, for ``AGENCY_BREAKER_COOLDOWN_SECONDS``. Then
it is half-open: one call (whoever claims the probe first) may try; its success closes the breaker, its
failure opens it for another cool-down. Only "unavailable" outcomes count as failures: an agency that
answers, even with a refusal, is up. The breaker never decides on its own that an agency is healthy.

While the cache is unreachable the breaker stands aside: calls go through (each still bounded by the
client's timeouts) and nothing is counted, so a fetch in flight when Redis restarts still ends.
"""

import logging
import time

from django.conf import settings
from django.core.cache import cache

from portal.agencies.client import AgencyUnavailable
from portal.core.outages import SHARED_CACHE_UNREACHABLE

logger = logging.getLogger(__name__)

# Long enough to outlive any cool-down; short enough that an agency not called for a while starts afresh.
STATE_TTL_SECONDS = 3600


class AgencyCircuitOpen(AgencyUnavailable):
    """The breaker is open: the agency was not called (retryable, like any unavailability)."""

    code = "circuit_open"


def _keys(agency_id: str) -> tuple[str, str, str]:
    prefix = f"agency-breaker:{agency_id}"
    return f"{prefix}:failures", f"{prefix}:opened-at", f"{prefix}:probe"


def _probe_ttl() -> int:
    # A probe that never reports back (its worker died) must not keep the breaker half-open for good.
    return int(settings.AGENCY_HTTP_TIMEOUT * 2) + 5


def breaker_state(*, agency_id: str, now: float | None = None) -> str:
    """``closed``, ``open`` or ``half_open``: for pages, admin and tests; calls use :func:`breaker_allow`."""
    _, opened_key, _ = _keys(agency_id)
    opened_at = cache.get(opened_key)
    if opened_at is None:
        return "closed"
    now = time.time() if now is None else now
    return "open" if now < opened_at + settings.AGENCY_BREAKER_COOLDOWN_SECONDS else "half_open"


def breaker_allow(*, agency_id: str, now: float | None = None) -> None:
    """Returns when the agency may be called; raises :class:`AgencyCircuitOpen` when it may not."""
    try:
        state = breaker_state(agency_id=agency_id, now=now)
        if state == "closed":
            return
        _, _, probe_key = _keys(agency_id)
        # cache.add is atomic (SET NX on Redis): of many callers in the half-open state, one probes.
        if state == "half_open" and cache.add(probe_key, 1, timeout=_probe_ttl()):
            return
    except SHARED_CACHE_UNREACHABLE:
        logger.warning("breaker of %s not consulted: the shared cache is unreachable", agency_id)
        return
    raise AgencyCircuitOpen(f"{agency_id}: circuit open")


def breaker_success(*, agency_id: str) -> None:
    """The agency answered: close the breaker and forget earlier failures."""
    failures_key, opened_key, probe_key = _keys(agency_id)
    try:
        cache.delete_many([failures_key, opened_key, probe_key])
    except SHARED_CACHE_UNREACHABLE:
        logger.warning("success of %s not recorded: the shared cache is unreachable", agency_id)


def breaker_failure(*, agency_id: str, now: float | None = None) -> None:
    """The agency was unavailable: count it, and open (or reopen) the breaker when it is time."""
    try:
        _failure_count(agency_id=agency_id, now=time.time() if now is None else now)
    except SHARED_CACHE_UNREACHABLE:
        logger.warning("failure of %s not counted: the shared cache is unreachable", agency_id)


def _failure_count(*, agency_id: str, now: float) -> None:
    failures_key, opened_key, probe_key = _keys(agency_id)
    if cache.get(opened_key) is not None:
        # A failed probe (or a call that began before the breaker opened): a fresh cool-down.
        cache.set(opened_key, now, timeout=STATE_TTL_SECONDS)
        cache.delete(probe_key)
        return
    cache.add(failures_key, 0, timeout=STATE_TTL_SECONDS)
    try:
        failures = cache.incr(failures_key)
    except ValueError:  # expired between add and incr
        cache.set(failures_key, 1, timeout=STATE_TTL_SECONDS)
        failures = 1
    if failures >= settings.AGENCY_BREAKER_FAILURES:
        cache.set(opened_key, now, timeout=STATE_TTL_SECONDS)
