"""/healthz (the process answers) and /readyz (database, cache and broker reachable)."""

from django.conf import settings
from django.core.cache import cache
from django.db import connection
from django.http import HttpRequest, JsonResponse
from django.views.decorators.cache import never_cache

from portal.core.outages import broker_check


@never_cache
def healthz(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"status": "ok"})


def _database() -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()


def _cache() -> None:
    cache.set("readyz", "1", timeout=5)
    if cache.get("readyz") != "1":
        raise RuntimeError("cache did not return what was stored")


@never_cache
def readyz(request: HttpRequest) -> JsonResponse:
    checks = {"database": _database, "cache": _cache, "broker": broker_check}
    results: dict[str, str] = {}
    for name, check in checks.items():
        try:
            check()
            results[name] = "ok"
        except Exception as exc:
            results[name] = f"unavailable ({type(exc).__name__})"
    ready = all(value == "ok" for value in results.values())
    body = {"status": "ready" if ready else "not ready", "checks": results}
    if settings.DEBUG is False:
        body["checks"] = {k: ("ok" if v == "ok" else "unavailable") for k, v in results.items()}
    return JsonResponse(body, status=200 if ready else 503)
