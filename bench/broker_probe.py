"""Benchmark: what /myinfo/'s question "can fetching start now?" (portal.core.outages.broker_reachable) costs
a page view, against a read of the shared cache, which every page already makes for its session.

Target (the Redis-restart fault test of issue 4): the probe's median **≤ 1.5 ×** a cache read's, Redis up.
Informative: the probe against a refused port (Redis down), and the fresh kombu connection /readyz opens.
"""
# ruff: noqa: E402  (Django must be set up before the portal's modules are imported)

import argparse
import sys
import time
from collections.abc import Callable

from bench.environment import bench_environment

bench_environment()

from django.core.cache import cache

from bench.figures import median, p95, report, verdict
from portal.celery import app as celery_app
from portal.core.outages import broker_check, broker_reachable

BENCH = "broker_probe"
LIMIT_RATIO = 1.5
REFUSED = "redis://127.0.0.1:9/0"


def timed_ms(call: Callable[[], object]) -> float:
    started = time.perf_counter()
    call()
    return (time.perf_counter() - started) * 1000


def refused_probe() -> bool:
    working = celery_app.conf.broker_url
    celery_app.conf.broker_url = REFUSED
    try:
        return broker_reachable()
    finally:
        celery_app.conf.broker_url = working


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--calls", type=int, default=500, help="calls of each per round, taking turns")
    parser.add_argument("--fresh", type=int, default=50, help="fresh connections timed per round")
    args = parser.parse_args()

    if not broker_reachable():
        sys.exit(f"{BENCH}: the broker does not answer; is Redis up?")
    if refused_probe():
        sys.exit(f"{BENCH}: {REFUSED} answered; the refused case needs a closed port")
    cache.get("broker-probe-warm-up")
    medians: dict[str, list[float]] = {"cache": [], "probe": [], "refused": [], "fresh": []}
    tails: dict[str, list[float]] = {"cache": [], "probe": []}
    ratios = []
    for _ in range(args.rounds):
        samples: dict[str, list[float]] = {name: [] for name in medians}
        for _ in range(args.calls):  # taking turns, so both see the same load
            samples["cache"].append(timed_ms(lambda: cache.get("broker-probe-missing")))
            samples["probe"].append(timed_ms(broker_reachable))
        for _ in range(args.fresh):
            samples["refused"].append(timed_ms(refused_probe))
            samples["fresh"].append(timed_ms(broker_check))
        for name, values in samples.items():
            medians[name].append(median(values))
        for name in tails:
            tails[name].append(p95(samples[name]))
        ratios.append(median(samples["probe"]) / median(samples["cache"]))

    setup = f"(median of {args.rounds} rounds × {args.calls} calls each, taking turns)"
    ratio = median(ratios)
    passed = ratio <= LIMIT_RATIO
    report(BENCH, "cache_read_p50", median(medians["cache"]), "ms", f"cache.get of a missing key {setup}")
    report(BENCH, "cache_read_p95", median(tails["cache"]), "ms")
    report(BENCH, "probe_p50", median(medians["probe"]), "ms", "broker_reachable(), Redis up")
    report(BENCH, "probe_p95", median(tails["probe"]), "ms")
    report(BENCH, "probe_ratio", ratio, "x", f"probe / cache read, ≤ {LIMIT_RATIO:g}: {verdict(passed)}")
    report(BENCH, "probe_refused_p50", median(medians["refused"]), "ms", f"broker at {REFUSED} (informative)")
    report(BENCH, "fresh_connection_p50", median(medians["fresh"]), "ms", "kombu connection as /readyz opens")
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())
