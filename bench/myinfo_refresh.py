"""Benchmark: a full refresh of all twelve categories for one resident against a single category's fetch,
end to end through a real fetch worker and the agency simulator, with every agency answering after 200 ms.

Target (issue 4): the full refresh completes within three times a single fetch's time (parallel, not serial).
Timed from myinfo_refresh_start until no entry says "fetching", as the page's progress sees it.
"""
# ruff: noqa: E402  (Django must be set up before the portal's modules are imported)

import argparse
import sys
import time

from bench.environment import bench_environment

bench_environment()

from django.db import connections

from bench.agencies import agency_simulator, demo_resident, fetch_worker, fetching, not_done
from bench.database import database_prepare
from bench.figures import median, report, verdict
from portal.identity.models import Resident
from portal.myinfo.models import MYINFO_CATEGORIES
from portal.myinfo.services import myinfo_refresh_start

BENCH = "myinfo_refresh"
MAX_RATIO = 3.0
PERSON = "yamada-hanako"
POLL_SECONDS = 0.005


def timed_refresh(resident: Resident, categories: list[str], timeout: float = 60) -> float:
    """Seconds from asking for the categories until every one has ended; exits unless all brought data."""
    started = time.perf_counter()
    queued = myinfo_refresh_start(resident=resident, categories=categories)
    if queued != categories:
        sys.exit(f"{BENCH}: queued {queued}, not {categories}: a fetch was already under way")
    deadline = started + timeout
    while fetching([resident.pk]):
        if time.perf_counter() > deadline:
            sys.exit(f"{BENCH}: {categories} still fetching after {timeout:g} s")
        time.sleep(POLL_SECONDS)
    elapsed = time.perf_counter() - started
    if failed := not_done(resident, categories):
        sys.exit(f"{BENCH}: not every category arrived: {failed}")
    return elapsed


def one_round(resident: Resident, full_first: bool) -> tuple[float, dict[str, float]]:
    """The full refresh and each category alone, one after another; which comes first alternates."""
    categories = list(MYINFO_CATEGORIES)
    full = timed_refresh(resident, categories) if full_first else 0.0
    singles = {category: timed_refresh(resident, [category]) for category in categories}
    if not full_first:
        full = timed_refresh(resident, categories)
    return full, singles


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--latency-ms", type=int, default=200, help="every agency's answer delay")
    parser.add_argument("--concurrency", type=int, default=12, help="fetch worker threads (the Procfile's)")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--residents", type=int, default=10_000, help="seed up to this many residents")
    args = parser.parse_args()

    database_prepare(args.residents, bench=BENCH)
    resident = demo_resident(PERSON)
    fulls, single_medians, single_slowest, ratios = [], [], [], []
    with agency_simulator(bench=BENCH) as simulator, fetch_worker(concurrency=args.concurrency, bench=BENCH):
        simulator.set_latency(args.latency_ms)
        one_round(resident, full_first=True)  # warm-up: the worker's imports, schemas, connections
        for index in range(args.rounds):
            full, singles = one_round(resident, full_first=index % 2 == 0)
            fulls.append(full)
            single_medians.append(median(list(singles.values())))
            single_slowest.append(max(singles.values()))
            ratios.append(full / single_medians[-1])
    connections.close_all()

    ratio = median(ratios)
    passed = ratio <= MAX_RATIO
    setup = (
        f"(median of {args.rounds} rounds; {len(MYINFO_CATEGORIES)} categories of {PERSON}; every agency "
        f"{args.latency_ms} ms; fetch worker threads={args.concurrency})"
    )
    report(BENCH, "full_refresh", median(fulls) * 1000, "ms", setup)
    report(BENCH, "single_fetch", median(single_medians) * 1000, "ms", "(each category alone, median)")
    report(BENCH, "ratio", ratio, "", f"full/single, limit ≤ {MAX_RATIO:g}: {verdict(passed)}")
    report(BENCH, "single_fetch_slowest", median(single_slowest) * 1000, "ms", "(slowest category alone)")
    serial = median(single_medians) * len(MYINFO_CATEGORIES) * 1000
    report(BENCH, "serial_estimate", serial, "ms", "(12 × single: what one fetch at a time would take)")
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())
