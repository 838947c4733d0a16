"""A Redis that failed is left alone for a few seconds (portal.core.outages): calls fail at once instead of
each waiting its timeout, for the cache, the broker's PING and publishing tasks alike."""

import kombu.exceptions
import pytest
import redis
from django.core.cache import caches

from portal.core import outages
from portal.core.outages import (
    HeldOffConnection,
    HeldOffRedisError,
    broker_address,
    broker_reachable,
    redis_address,
    redis_held_off,
    redis_hold_off,
)
from portal.myinfo.tasks import fetch_category

pytestmark = pytest.mark.django_db

REFUSING = "redis://127.0.0.1:9/0"  # the discard port: nothing listens, connections are refused


def _client(url: str = REFUSING) -> redis.Redis:
    return redis.Redis.from_url(
        url, socket_connect_timeout=1, socket_timeout=1, connection_class=HeldOffConnection
    )


def test_a_failed_redis_is_held_off_and_then_tried_again(monkeypatch, settings):
    settings.REDIS_UNREACHABLE_HOLD_SECONDS = 5
    clock = [1000.0]
    monkeypatch.setattr(outages.time, "monotonic", lambda: clock[0])
    client = _client()

    with pytest.raises(redis.exceptions.ConnectionError) as first:
        client.ping()
    assert not isinstance(first.value, HeldOffRedisError)  # it was tried
    assert redis_held_off("127.0.0.1:9")
    connects = []
    monkeypatch.setattr(redis.connection.Connection, "connect", lambda self: connects.append(self))
    with pytest.raises(HeldOffRedisError):
        client.ping()
    assert connects == []  # refused without touching the network

    clock[0] += 5
    assert not redis_held_off("127.0.0.1:9")


def test_a_hold_is_per_server():
    redis_hold_off("127.0.0.1:9")
    assert redis_held_off("127.0.0.1:9")
    assert not redis_held_off("127.0.0.1:6379")
    assert redis_address("redis://example.test/3") == "example.test:6379"
    assert redis_address("rediss://10.0.0.1:6380/0") == "10.0.0.1:6380"


def test_the_shared_cache_times_out_and_holds_off(settings):
    options = settings.CACHES["default"].get("OPTIONS", {})
    if settings.CACHES["default"]["BACKEND"] != "portal.core.cache.PortalRedisCache":
        pytest.fail("these tests need Redis as the cache (REDIS_URL); run make test")
    assert options["socket_timeout"] <= 1 and options["socket_connect_timeout"] <= 1
    client = caches["default"]._cache.get_client(write=True)
    assert client.connection_pool.connection_class is HeldOffConnection


def test_the_broker_is_not_pinged_nor_published_to_while_held_off(settings):
    address = broker_address()
    if address is None:
        pytest.fail("these tests need Redis as the broker (REDIS_URL); run make test")
    assert broker_reachable() is True
    redis_hold_off(address)
    assert broker_reachable() is False
    with pytest.raises(kombu.exceptions.OperationalError):
        fetch_category.apply_async(kwargs={"resident_id": 1, "category": "household"})
    with pytest.raises(HeldOffRedisError):
        outages.broker_check()


def test_readyz_says_not_ready_while_the_broker_is_held_off(client):
    address = broker_address()
    if address is None:
        pytest.fail("these tests need Redis as the broker (REDIS_URL); run make test")
    redis_hold_off(address)
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json()["checks"]["broker"] == "unavailable"
