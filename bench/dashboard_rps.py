"""Benchmark: dashboard requests per second against a bare Django view, both served by one gunicorn in
the same run, in interleaved rounds, so that the shared machine's noise cancels out of the ratio.

Target (foundation issue): the dashboard serves at least half the bare view's requests per second. Each
dashboard view writes an access-history record (SPEC 2.3, intended), on a database seeded with residents.
"""
# ruff: noqa: E402  (Django must be set up before the portal's modules are imported)

import argparse
import sys

import httpx

from bench.environment import bench_environment

bench_environment()

from django.conf import settings
from django.db import connections

from bench.database import database_prepare, resident_sessions
from bench.figures import median, report, verdict
from bench.load import interleaved_rounds, load_options, per_round_ratios, raw_get
from bench.server import gunicorn_serving
from portal.history.models import ReleaseRecord

BENCH = "dashboard_rps"
MIN_RATIO = 0.5
DASHBOARD, BARE = "/", "/bench/bare/"


def require_pages_work(base_url: str, session: str) -> None:
    """Timing a redirect to the login page instead of the dashboard would flatter the dashboard."""
    cookies = {settings.SESSION_COOKIE_NAME: session}
    dashboard = httpx.get(f"{base_url}{DASHBOARD}", cookies=cookies, follow_redirects=False)
    bare = httpx.get(f"{base_url}{BARE}")
    if dashboard.status_code != 200 or 'id="greeting"' not in dashboard.text:
        sys.exit(f"{BENCH}: the dashboard answered {dashboard.status_code}, not the resident's page")
    if bare.status_code != 200 or bare.text != "ok":
        sys.exit(f"{BENCH}: the bare view answered {bare.status_code}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--residents", type=int, default=10_000, help="seed up to this many residents")
    load_options(parser)
    args = parser.parse_args()

    database_prepare(args.residents, bench=BENCH)
    sessions = resident_sessions(args.connections)
    if len(sessions) < args.connections:
        sys.exit(f"{BENCH}: {args.connections} connections need as many residents; seed more")
    records_before = ReleaseRecord.objects.count()
    connections.close_all()  # this process only drives the load from here on

    targets = {
        "dashboard": [raw_get(DASHBOARD, session) for session in sessions],
        "bare": [raw_get(BARE)] * args.connections,
        # Not part of the target: shows how much of the gap is loading the session and the user.
        "bare_logged_in": [raw_get(BARE, session) for session in sessions],
    }
    with gunicorn_serving(workers=args.workers, threads=args.threads, bench=BENCH) as port:
        require_pages_work(f"http://127.0.0.1:{port}", sessions[0])
        # Warm-up: templates, connections.
        interleaved_rounds(port, targets, rounds=1, seconds=1.0, bench=BENCH)
        rps = interleaved_rounds(port, targets, args.rounds, args.seconds, bench=BENCH)

    ratio = median(per_round_ratios(rps, "dashboard", "bare"))
    passed = ratio >= MIN_RATIO
    setup = (
        f"(median of {args.rounds} rounds × {args.seconds:g} s; gunicorn workers={args.workers} "
        f"threads={args.threads}; connections={args.connections})"
    )
    report(BENCH, "dashboard_rps", median(rps["dashboard"]), "req/s", setup)
    report(BENCH, "bare_rps", median(rps["bare"]), "req/s", "(anonymous)")
    report(BENCH, "ratio", ratio, "", f"dashboard/bare, limit ≥ {MIN_RATIO:g}: {verdict(passed)}")
    report(BENCH, "bare_logged_in_rps", median(rps["bare_logged_in"]), "req/s", "(informative)")
    logged_in = median(per_round_ratios(rps, "dashboard", "bare_logged_in"))
    report(BENCH, "ratio_to_logged_in", logged_in, "", "dashboard/bare_logged_in (informative)")
    report(BENCH, "history_records", ReleaseRecord.objects.count() - records_before, "rows", "(one per view)")
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())
