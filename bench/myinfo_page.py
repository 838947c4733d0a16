"""Benchmark: latency of /myinfo/, the cards of a resident whose twelve categories are all in the cache,
served by gunicorn as in production and requested one at a time; a category's page is timed for
information. The cache is filled first through the real path: the agency simulator and a fetch worker.

Target (issue 4): the 95th percentile under 40 ms, and the fetch worker's resident memory reported. Each
view of a category's page records a release in the resident's history (SPEC 2.3, intended); /myinfo/
shows no agency data and records none.
"""
# ruff: noqa: E402  (Django must be set up before the portal's modules are imported)

import argparse
import re
import sys
import time

import httpx

from bench.environment import bench_environment

bench_environment()

from django.conf import settings
from django.db import connections

from bench.agencies import (
    agency_simulator,
    demo_resident,
    fetch_worker,
    fetching,
    not_done,
    resident_memory_kib,
    wait_until,
)
from bench.database import database_prepare, logged_in_session
from bench.figures import latency_report, report
from bench.load import raw_get, sequential_rounds
from bench.server import gunicorn_serving
from portal.identity.models import Resident
from portal.myinfo.models import MYINFO_CATEGORIES
from portal.myinfo.services import myinfo_refresh_start

BENCH = "myinfo_page"
LIMIT_MS = 40.0
PERSON = "yamada-hanako"
DETAIL = "medical_checkups"
STATE = re.compile(r'data-category="([a-z_]+)" data-state="([a-z]+)"')


def cache_filled(resident: Resident, concurrency: int) -> tuple[int, int]:
    """Every category fetched anew through a real worker; returns the worker's VmRSS and VmHWM in KiB."""
    with agency_simulator(bench=BENCH), fetch_worker(concurrency=concurrency, bench=BENCH) as worker:
        myinfo_refresh_start(resident=resident)
        wait_until(lambda: not fetching([resident.pk]), timeout=120, what="the refresh", bench=BENCH)
        if failed := not_done(resident, list(MYINFO_CATEGORIES)):
            sys.exit(f"{BENCH}: not every category arrived: {failed}")
        time.sleep(0.5)  # the worker acknowledges and settles after the last write
        return resident_memory_kib(worker.pid)


def require_cards_done(port: int, session: str, detail: str) -> None:
    """Timing a login redirect, or cards still fetching, would not be the page from the cache."""
    cookies = {settings.SESSION_COOKIE_NAME: session}
    answer = httpx.get(f"http://127.0.0.1:{port}/myinfo/", cookies=cookies, follow_redirects=False)
    states = dict(STATE.findall(answer.text))
    if answer.status_code != 200 or set(states) != set(MYINFO_CATEGORIES):
        sys.exit(f"{BENCH}: /myinfo/ answered {answer.status_code} with {len(states)} cards")
    if not_done_cards := {c: s for c, s in states.items() if s != "done"}:
        sys.exit(f"{BENCH}: /myinfo/ shows cards not done: {not_done_cards}")
    answer = httpx.get(f"http://127.0.0.1:{port}{detail}", cookies=cookies, follow_redirects=False)
    if answer.status_code != 200 or 'id="data"' not in answer.text:
        sys.exit(f"{BENCH}: {detail} answered {answer.status_code} without the data")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers (as in the Procfile)")
    parser.add_argument("--concurrency", type=int, default=12, help="fetch worker threads (the Procfile's)")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--requests", type=int, default=100, help="requests per page per round")
    parser.add_argument("--residents", type=int, default=10_000, help="seed up to this many residents")
    args = parser.parse_args()

    database_prepare(args.residents, bench=BENCH)
    resident = demo_resident(PERSON)
    rss_kib, peak_kib = cache_filled(resident, args.concurrency)
    session = logged_in_session(resident.user)
    connections.close_all()  # this process only sends requests from here on

    pages = {"overview": "/myinfo/", "detail": f"/myinfo/{DETAIL}/"}
    requests = {name: raw_get(path, session) for name, path in pages.items()}
    with gunicorn_serving(workers=args.workers, threads=1, bench=BENCH) as port:
        require_cards_done(port, session, pages["detail"])
        sequential_rounds(port, requests, rounds=1, per_round=10, bench=BENCH)  # warm-up
        latencies = sequential_rounds(port, requests, args.rounds, args.requests, bench=BENCH)

    setup = (
        f"(median of {args.rounds} rounds × {args.requests} requests per page, one at a time; "
        f"gunicorn workers={args.workers}; all {len(MYINFO_CATEGORIES)} categories cached)"
    )
    passed = latency_report(BENCH, "overview", latencies["overview"], f"/myinfo/ {setup}", limit_ms=LIMIT_MS)
    note = f"{pages['detail']} (informative; records a release)"
    latency_report(BENCH, "detail", latencies["detail"], note)
    report(BENCH, "worker_rss", rss_kib / 1024, "MiB", "(fetch worker, cache filled; with children)")
    report(BENCH, "worker_rss_peak", peak_kib / 1024, "MiB", "(VmHWM)")
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())
