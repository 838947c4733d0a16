"""Benchmark: latency of the notice inbox /notices/ for a resident with 10,000 notices, served by gunicorn
as in production and requested one at a time: the newest page, a search and a filter.

Target (issue 5): the 95th percentile under 50 ms for a resident with 10,000 notices. Broadcasts are
matched at read time, so the inbox's query does the matching on every view.
"""
# ruff: noqa: E402  (Django must be set up before the portal's modules are imported)

import argparse
import random
import re
import sys
import time
from urllib.parse import quote

import httpx

from bench.environment import bench_environment

bench_environment()

from django.conf import settings
from django.db import connections

from bench.database import database_prepare, logged_in_session
from bench.figures import latency_report, report
from bench.load import raw_get, sequential_rounds
from bench.notices_data import (
    agency_client_registered,
    bench_notice_resident,
    bench_var,
    inbox_write,
    visible_count,
)
from bench.server import gunicorn_serving

BENCH = "notices_inbox"
LIMIT_MS = 50.0
PAGE_SIZE = 50  # notices.conf NOTICE_PAGE_SIZE: a full page must come back, or the page is not timed
ITEM = re.compile(r'class="inbox__item[^"]*" data-id="')


def require_pages_full(port: int, session: str, pages: dict[str, str]) -> None:
    """Timing a redirect to the login page, or an empty inbox, would flatter the page."""
    for path in pages.values():
        answer = httpx.get(
            f"http://127.0.0.1:{port}{path}",
            cookies={settings.SESSION_COOKIE_NAME: session},
            follow_redirects=False,
        )
        shown = len(ITEM.findall(answer.text))
        if answer.status_code != 200 or shown != PAGE_SIZE or 'id="older"' not in answer.text:
            sys.exit(f"{BENCH}: {path} answered {answer.status_code} with {shown} notices: not a full page")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--notices", type=int, default=10_000, help="notices in the resident's inbox")
    parser.add_argument("--residents", type=int, default=10_000, help="seed up to this many residents")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers (as in the Procfile)")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--requests", type=int, default=100, help="requests per page per round")
    args = parser.parse_args()

    rng = random.Random(5)
    database_prepare(args.residents, bench=BENCH)
    resident = bench_notice_resident(f"bench-notices-{args.notices}", rng)
    have = visible_count(resident)
    if have < args.notices:
        print(
            f"{BENCH}: writing {args.notices - have} notices for one resident…", file=sys.stderr, flush=True
        )
        started = time.perf_counter()
        client, _ = agency_client_registered(bench_var("notices"))
        inbox_write(resident, client, args.notices - have, rng)
        print(f"{BENCH}: written in {time.perf_counter() - started:.1f} s", file=sys.stderr, flush=True)
    session = logged_in_session(resident.user)
    total = visible_count(resident)
    connections.close_all()  # this process only sends requests from here on

    pages = {
        "inbox": "/notices/",
        "search": f"/notices/?q={quote('現況')}",
        "unread": "/notices/?filter=unread",
    }
    requests = {name: raw_get(path, session) for name, path in pages.items()}
    with gunicorn_serving(workers=args.workers, threads=1, bench=BENCH) as port:
        require_pages_full(port, session, pages)
        sequential_rounds(port, requests, rounds=1, per_round=10, bench=BENCH)  # warm-up
        latencies = sequential_rounds(port, requests, args.rounds, args.requests, bench=BENCH)

    passed = True
    for name, path in pages.items():
        passed = latency_report(BENCH, name, latencies[name], path, limit_ms=LIMIT_MS) and passed
    setup = (
        f"(median of {args.rounds} rounds × {args.requests} requests per page, one at a time; "
        f"gunicorn workers={args.workers})"
    )
    report(BENCH, "notices", total, "rows", f"in the resident's inbox {setup}")
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())
