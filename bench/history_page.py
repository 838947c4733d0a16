"""Benchmark: latency of the resident's access-history page /history/ for a resident with a long history,
served by gunicorn as in production and requested one at a time.

Target (issue 3): the 95th percentile under 50 ms for a resident with 100,000 records, on PostgreSQL. Each
view of the page itself appends a record to that resident's chain (SPEC 2.3, intended).
"""
# ruff: noqa: E402  (Django must be set up before the portal's modules are imported)

import argparse
import random
import re
import sys
import time

import httpx

from bench.environment import bench_environment

bench_environment()

from django.conf import settings
from django.db import connections
from django.test import Client

from bench.database import database_prepare, logged_in_session
from bench.figures import latency_report, median, report
from bench.history_data import (
    STALE,
    bench_resident,
    chain_format_current,
    chain_length,
    chains_write,
    default_partition_rows,
    statistics_refresh,
)
from bench.load import raw_get, sequential_rounds
from bench.server import gunicorn_serving
from portal.history.selectors import chain_first_broken_seq
from portal.identity.models import Resident

BENCH = "history_page"
LIMIT_MS = 50.0
PAGE_SIZE = 50  # portal.history.views.PAGE_SIZE: a full page must come back, or the page is not timed
SEQ = re.compile(r'data-seq="(\d+)"')


def history_prepare(records: int, years: float, rng: random.Random) -> Resident:
    """The bench's resident with `records` records over `years`; built once, reused by later runs."""
    resident = bench_resident(f"bench-history-{records}", rng)
    have = chain_length(resident)
    if have == 0:
        print(f"{BENCH}: writing {records} records for one resident…", file=sys.stderr, flush=True)
        started = time.perf_counter()
        chains_write([(resident, records)], years=years, rng=rng)
        statistics_refresh()
        # A chain that does not verify would make the page show records no real portal could have.
        if (broken := chain_first_broken_seq(owner=resident)) is not None:
            sys.exit(f"{BENCH}: the synthetic chain breaks at #{broken}")
        print(f"{BENCH}: written in {time.perf_counter() - started:.1f} s", file=sys.stderr, flush=True)
    elif not chain_format_current(resident):
        sys.exit(f"{BENCH}: {STALE}")
    elif have < records:
        sys.exit(f"{BENCH}: {resident.user.username} has {have} records, not {records}; rebuild the database")
    if rows := default_partition_rows():
        sys.exit(f"{BENCH}: {rows} history rows are in the default partition; a month partition is missing")
    return resident


def require_history_shown(port: int, session: str, pages: dict[str, str], before: int) -> None:
    """Timing a redirect to the login page, or an empty page, would flatter the history page."""
    for name, path in pages.items():
        answer = httpx.get(
            f"http://127.0.0.1:{port}{path}",
            cookies={settings.SESSION_COOKIE_NAME: session},
            follow_redirects=False,
        )
        seqs = [int(seq) for seq in SEQ.findall(answer.text)]
        if answer.status_code != 200 or 'id="history-records"' not in answer.text or len(seqs) != PAGE_SIZE:
            sys.exit(f"{BENCH}: {path} answered {answer.status_code}, {len(seqs)} records: not a full page")
        if 'id="older"' not in answer.text:
            sys.exit(f"{BENCH}: {path} offers no older page")
        if name == "older" and max(seqs) >= before:
            sys.exit(f"{BENCH}: {path} showed record #{max(seqs)}, not older ones")


def view_cpu_ms(session: str, path: str, runs: int) -> list[float]:
    """Django's own CPU per view, in this process (database excluded): less noisy than wall time."""
    client = Client()
    client.cookies[settings.SESSION_COOKIE_NAME] = session
    client.get(path)  # warm-up
    cpu_ms = []
    for _ in range(runs):
        started = time.thread_time_ns()
        if client.get(path).status_code != 200:
            sys.exit(f"{BENCH}: {path} did not answer 200 in process")
        cpu_ms.append((time.thread_time_ns() - started) / 1e6)
    return cpu_ms


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=100_000, help="records in the resident's history")
    parser.add_argument("--years", type=float, default=3.0, help="the period the records span")
    parser.add_argument("--residents", type=int, default=10_000, help="seed up to this many residents")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers (as in the Procfile)")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--requests", type=int, default=100, help="requests per page per round")
    args = parser.parse_args()

    rng = random.Random(3)  # the same history every time the database is rebuilt
    database_prepare(args.residents, bench=BENCH)
    resident = history_prepare(args.records, args.years, rng)
    session = logged_in_session(resident.user)
    before = args.records // 2
    connections.close_all()  # this process only sends requests from here on

    pages = {
        "page": "/history/",
        "filtered": "/history/?category=income_tax",
        "older": f"/history/?before={before}",
    }
    requests = {name: raw_get(path, session) for name, path in pages.items()}
    with gunicorn_serving(workers=args.workers, threads=1, bench=BENCH) as port:
        require_history_shown(port, session, pages, before)
        # Warm-up: templates, connections, caches.
        sequential_rounds(port, requests, rounds=1, per_round=10, bench=BENCH)
        latencies = sequential_rounds(port, requests, args.rounds, args.requests, bench=BENCH)

    passed = True
    for name, path in pages.items():
        passed = latency_report(BENCH, name, latencies[name], path, limit_ms=LIMIT_MS) and passed
    cpu_ms = view_cpu_ms(session, pages["page"], args.requests)
    report(BENCH, "page_cpu_p50", median(cpu_ms), "ms", "Django's CPU per view, in process (informative)")
    setup = (
        f"(median of {args.rounds} rounds × {args.requests} requests per page, one at a time; "
        f"gunicorn workers={args.workers})"
    )
    report(BENCH, "records", chain_length(resident), "rows", f"in the resident's history {setup}")
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())
