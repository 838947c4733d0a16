"""The shared cache on Redis: Django's backend, keeping one redis-py client per connection pool.

Django's `RedisCacheClient` builds a new client object for every call (0.2 ms of CPU of a call's 0.55 ms
here, bench/README.md, consent API), and the portal makes several calls on every API request (rate limits,
DPoP and assertion `jti`s). A client holds no connection of its own, only its pool's, so keeping it is safe
across requests and threads, as redis-py documents.

`counter_incr` gives the rate limits their fixed window in one round trip instead of three. Connections
time out after about a second and hold off from a Redis that just failed (portal.core.outages), so a hung
Redis costs a page one timeout at most, not one per call.
"""

from typing import Any

from django.core.cache import DEFAULT_CACHE_ALIAS, caches
from django.core.cache.backends.redis import RedisCache, RedisCacheClient

from portal.core.outages import HeldOffConnection


class KeptClientRedisCacheClient(RedisCacheClient):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._clients: dict[int, Any] = {}
        # A hung Redis must not hang a page: short timeouts (settings CACHES), and after a failure the
        # connections refuse at once for a few seconds (portal.core.outages.HeldOffConnection).
        self._pool_options.setdefault("connection_class", HeldOffConnection)

    def get_client(self, key: Any = None, *, write: bool = False) -> Any:
        index = self._get_connection_pool_index(write)
        client = self._clients.get(index)
        if client is None:
            if index not in self._pools:
                self._pools[index] = self._pool_class.from_url(self._servers[index], **self._pool_options)
            client = self._clients[index] = self._client(connection_pool=self._pools[index])
        return client


class PortalRedisCache(RedisCache):
    def __init__(self, server: Any, params: dict[str, Any]) -> None:
        super().__init__(server, params)
        self._class = KeptClientRedisCacheClient

    def counter_incr(self, key: str, timeout: int) -> int:
        """Adds one to the counter `key`, made with this lifetime if it is new (or was evicted)."""
        redis_key = self.make_and_validate_key(key)
        pipeline = self._cache.get_client(redis_key, write=True).pipeline(transaction=False)
        pipeline.incr(redis_key)
        pipeline.expire(redis_key, timeout, nx=True)  # only the first call of a window sets it
        count, _ = pipeline.execute()
        return int(count)


def counter_incr(key: str, timeout: int, *, alias: str = DEFAULT_CACHE_ALIAS) -> int:
    """The same on any cache backend: the Redis one in one round trip, others (the file-based cache of the
    run command's defaults) with add and incr."""
    cache = caches[alias]  # the backend itself: django.core.cache.cache is a proxy to it
    if isinstance(cache, PortalRedisCache):
        return cache.counter_incr(key, timeout)
    cache.add(key, 0, timeout=timeout)
    try:
        return cache.incr(key)
    except ValueError:  # evicted between add and incr
        cache.set(key, 1, timeout=timeout)
        return 1
