"""The shared cache's backend: one kept redis-py client, and counters in one round trip."""

import time

import pytest
from django.core.cache import caches
from django.core.cache.backends.filebased import FileBasedCache

from portal.core.cache import PortalRedisCache, counter_incr
from portal.core.ratelimit import rate_limit


def test_the_shared_cache_is_the_portal_backend_and_keeps_its_client():
    backend = caches["default"]
    assert isinstance(backend, PortalRedisCache)
    first = backend._cache.get_client("a", write=True)
    assert backend._cache.get_client("b", write=True) is first
    assert backend._cache.get_client("c") is first  # one server: reads use the same pool


def test_counter_counts_and_its_lifetime_is_set_by_the_first_call_only():
    backend = caches["default"]
    key = f"test-counter:{time.monotonic_ns()}"
    assert [counter_incr(key, 60) for _ in range(3)] == [1, 2, 3]
    redis_key = backend.make_and_validate_key(key)
    client = backend._cache.get_client(redis_key, write=True)
    client.expire(redis_key, 30)  # a later call must not push the window's end back
    counter_incr(key, 60)
    assert 0 < client.ttl(redis_key) <= 30


def test_the_rate_limit_counts_in_one_round_trip(monkeypatch):
    calls = []
    monkeypatch.setattr(PortalRedisCache, "counter_incr", lambda self, key, timeout: calls.append(key) or 1)
    rate_limit(scope="test", key="k", limit=5, window_seconds=60)
    assert len(calls) == 1


def test_a_counter_evicted_starts_again_with_a_lifetime():
    backend = caches["default"]
    key = f"test-counter-evicted:{time.monotonic_ns()}"
    counter_incr(key, 60)
    backend.delete(key)
    assert counter_incr(key, 60) == 1
    redis_key = backend.make_and_validate_key(key)
    assert 0 < backend._cache.get_client(redis_key).ttl(redis_key) <= 60


def test_counter_on_the_file_cache_of_the_run_command(settings, tmp_path):
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
            "LOCATION": str(tmp_path),
        }
    }
    assert isinstance(caches["default"], FileBasedCache)
    assert [counter_incr("k", 60) for _ in range(3)] == [1, 2, 3]


def test_a_refused_redis_raises_rather_than_counting(stop_shared_cache):
    stop_shared_cache()
    with pytest.raises(Exception):  # noqa: B017 - redis-py's ConnectionError; callers map it to an outage
        counter_incr("k", 60)
