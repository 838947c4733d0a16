"""Benchmark: a broadcast to every resident, posted through the agency API, until it is in sampled
residents' inboxes; the memory of the processes that send it, and the notification fan-out after it.

Target (issue 5): a broadcast to 1,000,000 residents is readable in every inbox within 2 s of the API call
(PostgreSQL), with the sender process under 300 MB of resident memory. A broadcast is one row matched at
read time, so "readable" is its commit; telling residents (notices.announce_notice, one notify_resident
per resident) runs afterwards in a worker, and is measured here for a while, not to its end by default.
"""
# ruff: noqa: E402  (Django must be set up before the portal's modules are imported)

import argparse
import random
import sys
import time
import uuid

import httpx

from bench.environment import bench_environment

bench_environment()

from django.conf import settings
from django.db import connection, connections

from bench.database import database_create, logged_in_session
from bench.figures import median, report, verdict
from bench.notices_data import (
    agency_client_registered,
    assertion,
    bench_var,
    children,
    default_worker,
    memory_kib,
    notice_request,
    residents_top_up,
)
from bench.server import gunicorn_serving
from notices.models import Notice
from notices.selectors import broadcast_residents, notice_list
from portal.identity.models import Resident

BENCH = "notices_broadcast"
LIMIT_S = 2.0
LIMIT_MIB = 300.0
API = "/api/agency/v1/notices"


def sampled_residents(count: int, rng: random.Random) -> list[Resident]:
    """Residents spread over the whole table (random ids between the first and the last)."""
    low, high = (
        Resident.objects.order_by("pk").values_list("pk", flat=True)[0],
        Resident.objects.latest("pk").pk,
    )
    chosen: dict[int, Resident] = {}
    while len(chosen) < count:
        resident = (
            Resident.objects.filter(pk__gte=rng.randint(low, high)).select_related("user").order_by("pk")[0]
        )
        chosen[resident.pk] = resident
    return list(chosen.values())


def commits() -> int:
    """Transactions committed in the bench database so far (each notify_resident is one)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_stat_clear_snapshot()")
        cursor.execute("SELECT xact_commit FROM pg_stat_database WHERE datname = current_database()")
        return cursor.fetchone()[0]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--residents", type=int, default=1_000_000, help="seed up to this many residents")
    parser.add_argument("--sample", type=int, default=20, help="residents whose /notices/ is requested")
    parser.add_argument("--selector-sample", type=int, default=1000, help="residents checked by the selector")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers (as in the Procfile)")
    parser.add_argument("--fanout-seconds", type=float, default=30.0, help="watch the fan-out this long")
    args = parser.parse_args()

    database_create()
    from django.core.management import call_command

    call_command("migrate", interactive=False, verbosity=0)
    total = residents_top_up(args.residents, bench=BENCH)
    rng = random.Random()
    _, key = agency_client_registered(bench_var("notices"))
    sample = sampled_residents(args.sample, rng)
    sessions = [logged_in_session(r.user) for r in sample]
    connections.close_all()

    title = f"一斉配信ベンチ {uuid.uuid4().hex[:8]}"
    body = notice_request({"type": "everyone"}, title)
    with (
        gunicorn_serving(workers=args.workers, threads=1, bench=BENCH) as port,
        default_worker(bench=BENCH) as (worker, worker_log),
        httpx.Client(base_url=f"http://127.0.0.1:{port}") as http,
    ):
        # Warm-up: each session's inbox once, and the API's authentication (an unknown notice: 404).
        for session in sessions:
            if http.get("/notices/", cookies={settings.SESSION_COOKIE_NAME: session}).status_code != 200:
                sys.exit(f"{BENCH}: a sampled resident's /notices/ did not answer 200")
        probe = http.get(f"{API}/{uuid.uuid4()}", headers={"Authorization": f"Bearer {assertion(key)}"})
        if probe.status_code != 404:
            sys.exit(f"{BENCH}: the agency API answered {probe.status_code} to an authenticated probe")
        headers = {
            "Authorization": f"Bearer {assertion(key)}",
            "Idempotency-Key": f"bench-broadcast-{uuid.uuid4()}",
            "Content-Type": "application/json",
        }
        commits_before = commits()
        started = time.perf_counter()
        answer = http.post(API, content=body, headers=headers)
        api_s = time.perf_counter() - started
        if answer.status_code != 201:
            sys.exit(f"{BENCH}: the API answered {answer.status_code}: {answer.text[:300]}")
        public_id = answer.json()["id"]
        seen_s = []
        for session in sessions:
            while True:
                page = http.get("/notices/", cookies={settings.SESSION_COOKIE_NAME: session})
                if f'data-id="{public_id}"' in page.text:
                    seen_s.append(time.perf_counter() - started)
                    break
                if time.perf_counter() - started > 30:
                    sys.exit(f"{BENCH}: the broadcast was not in a sampled inbox after 30 s")
        gunicorn_rss = [memory_kib(pid) for pid in children(_master_pid(port))]

        # The fan-out: notices.announce_notice in the worker's pool process.
        fanout_started = time.perf_counter()
        pool_rss = []
        rates = []
        last_commits, last_time = commits(), time.perf_counter()
        deadline = fanout_started + args.fanout_seconds if args.fanout_seconds > 0 else float("inf")
        idle = 0
        while time.perf_counter() < deadline:
            time.sleep(1.0)
            pool_rss += [memory_kib(pid) for pid in children(worker.pid)]
            now_commits, now = commits(), time.perf_counter()
            rates.append((now_commits - last_commits) / (now - last_time))
            last_commits, last_time = now_commits, now
            idle = idle + 1 if rates[-1] < 5 and len(rates) > 3 else 0
            if idle >= 3:
                break  # the fan-out has ended
        fanout_s = time.perf_counter() - fanout_started
        told = last_commits - commits_before
        if "notices.announce_notice" not in worker_log.read_text():
            sys.exit(f"{BENCH}: the worker never received notices.announce_notice; see {worker_log}")

    connections.close_all()
    notice = Notice.objects.get(public_id=public_id)
    checked = sampled_residents(args.selector_sample, rng)
    started = time.perf_counter()
    in_inbox = sum(any(n.pk == notice.pk for n in notice_list(resident=r)) for r in checked)
    selector_ms = (time.perf_counter() - started) * 1000 / len(checked)
    started = time.perf_counter()
    matched = broadcast_residents(notice=notice).count()
    matched_s = time.perf_counter() - started

    visible_s = max(seen_s)
    api_rss = max(rss for rss, _ in gunicorn_rss) / 1024
    passed_time = visible_s < LIMIT_S and in_inbox == len(checked) and matched == total
    passed_memory = api_rss < LIMIT_MIB
    report(BENCH, "api_call", api_s * 1000, "ms", "POST /api/agency/v1/notices (everyone), until 201")
    report(BENCH, "visible_first", min(seen_s) * 1000, "ms", "first sampled /notices/ showing it")
    report(
        BENCH,
        "visible_all",
        visible_s * 1000,
        "ms",
        f"{len(sessions)} sampled inboxes in turn; limit < {LIMIT_S:g} s: {verdict(passed_time)}",
    )
    report(BENCH, "selector_sample", in_inbox, "of", f"{len(checked)} residents' notice_list shows it")
    report(BENCH, "selector_per_inbox", selector_ms, "ms", "notice_list per resident, in process")
    report(
        BENCH, "matched_residents", matched, "rows", f"broadcast_residents, of {total} ({matched_s:.2f} s)"
    )
    report(
        BENCH,
        "api_worker_rss",
        api_rss,
        "MiB",
        f"largest gunicorn worker; limit < {LIMIT_MIB:g}: {verdict(passed_memory)}",
    )
    report(BENCH, "api_worker_peak", max(peak for _, peak in gunicorn_rss) / 1024, "MiB", "(VmHWM)")
    if pool_rss:
        report(
            BENCH, "fanout_rss", max(rss for rss, _ in pool_rss) / 1024, "MiB", "the worker's pool process"
        )
        report(BENCH, "fanout_peak", max(peak for _, peak in pool_rss) / 1024, "MiB", "(VmHWM)")
    rate = median(rates[1:] or rates) if rates else 0.0
    report(BENCH, "fanout_rate", rate, "/s", "residents told per second (commits, median per second)")
    report(BENCH, "fanout_told", told, "", f"in {fanout_s:.1f} s watched")
    if rate > 0:
        report(
            BENCH, "fanout_all_estimate", matched / rate / 60, "min", f"for {matched} residents at that rate"
        )
    return 0 if passed_time and passed_memory else 1


def _master_pid(port: int) -> int:
    """The gunicorn bench.server started on the port (its workers are its children)."""
    from pathlib import Path

    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            command = (proc / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if b"gunicorn" in command and f"127.0.0.1:{port}".encode() in command:
            return int(proc.name)
    sys.exit(f"{BENCH}: no gunicorn listens on {port}")


if __name__ == "__main__":
    sys.exit(main())
