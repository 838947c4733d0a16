"""Benchmark: what recording a release costs the dashboard: its requests per second as the portal serves it
(one access-history record per view) against the same page without the record, in one gunicorn run.

Target (issue 3): with recording on, at least 95% of the throughput with it off. The page without the
record is bench.views.dashboard_unrecorded (bench only): the same template and context, no release_record.
"""
# ruff: noqa: E402  (Django must be set up before the portal's modules are imported)

import argparse
import re
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

BENCH = "recording_cost"
MIN_RATIO = 0.95
RECORDED, UNRECORDED = "/", "/bench/dashboard-unrecorded/"
# What differs between two renderings of one page anyway: the CSP nonce and the CSRF token.
PER_REQUEST = re.compile(r'(nonce|value|content)="[^"]*"')


def require_same_page_one_record(base_url: str, session: str) -> None:
    """Both must be the resident's dashboard, byte for byte, and only the portal's must write a record."""
    cookies = {settings.SESSION_COOKIE_NAME: session}
    pages = {}
    for path in (RECORDED, UNRECORDED):
        before = ReleaseRecord.objects.count()
        answer = httpx.get(f"{base_url}{path}", cookies=cookies, follow_redirects=False)
        written = ReleaseRecord.objects.count() - before
        if answer.status_code != 200 or 'id="greeting"' not in answer.text:
            sys.exit(f"{BENCH}: {path} answered {answer.status_code}, not the resident's dashboard")
        if written != (1 if path == RECORDED else 0):
            sys.exit(f"{BENCH}: {path} wrote {written} history records")
        pages[path] = PER_REQUEST.sub("", answer.text)
    if pages[RECORDED] != pages[UNRECORDED]:
        sys.exit(f"{BENCH}: {UNRECORDED} no longer renders what {RECORDED} renders; update bench/views.py")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--residents", type=int, default=10_000, help="seed up to this many residents")
    load_options(parser)
    args = parser.parse_args()

    database_prepare(args.residents, bench=BENCH)
    sessions = resident_sessions(args.connections)
    if len(sessions) < args.connections:
        sys.exit(f"{BENCH}: {args.connections} connections need as many residents; seed more")

    # Each connection is one resident, as in dashboard_rps: the records go to 8 chains, not one.
    targets = {
        "recorded": [raw_get(RECORDED, session) for session in sessions],
        "unrecorded": [raw_get(UNRECORDED, session) for session in sessions],
    }
    with gunicorn_serving(workers=args.workers, threads=args.threads, bench=BENCH) as port:
        require_same_page_one_record(f"http://127.0.0.1:{port}", sessions[0])
        records_before = ReleaseRecord.objects.count()
        connections.close_all()  # this process only drives the load from here on
        # Warm-up: templates, connections.
        interleaved_rounds(port, targets, rounds=1, seconds=1.0, bench=BENCH)
        rps = interleaved_rounds(port, targets, args.rounds, args.seconds, bench=BENCH)

    ratio = median(per_round_ratios(rps, "recorded", "unrecorded"))
    passed = ratio >= MIN_RATIO
    setup = (
        f"(median of {args.rounds} rounds × {args.seconds:g} s; gunicorn workers={args.workers} "
        f"threads={args.threads}; connections={args.connections})"
    )
    report(BENCH, "recorded_rps", median(rps["recorded"]), "req/s", f"{RECORDED} {setup}")
    report(BENCH, "unrecorded_rps", median(rps["unrecorded"]), "req/s", UNRECORDED)
    report(BENCH, "ratio", ratio, "", f"recorded/unrecorded, limit ≥ {MIN_RATIO:g}: {verdict(passed)}")
    pairs = zip(rps["recorded"], rps["unrecorded"], strict=True)
    cost_ms = median([(1 / recorded - 1 / unrecorded) * 1000 for recorded, unrecorded in pairs])
    report(BENCH, "cost_per_record", cost_ms, "ms", "1/recorded − 1/unrecorded (informative)")
    report(BENCH, "history_records", ReleaseRecord.objects.count() - records_before, "rows", "(one per view)")
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())
