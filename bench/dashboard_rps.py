"""Benchmark: dashboard requests per second against a bare Django view, both served by one gunicorn in
the same run, in interleaved rounds, so that the shared machine's noise cancels out of the ratio.

Target (foundation issue): the dashboard serves at least half the bare view's requests per second. Each
dashboard view writes an access-history record (SPEC 2.3, intended), on a database seeded with residents.
"""
# ruff: noqa: E402  (Django must be set up before the portal's modules are imported)

import argparse
import asyncio
import io
import os
import signal
import socket
import subprocess
import sys
import time
from collections import Counter
from importlib import import_module
from pathlib import Path

import httpx
import psycopg
from psycopg import sql

from bench.environment import REPO, bench_environment

bench_environment()

from django.conf import settings
from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
from django.core.management import call_command
from django.db import connections

from bench.figures import median, report, verdict
from portal.history.models import ReleaseRecord
from portal.identity.middleware import SESSION_LAST_SEEN, SESSION_LOGIN_AT
from portal.identity.models import Resident, User

BENCH = "dashboard_rps"
MIN_RATIO = 0.5
DASHBOARD, BARE = "/", "/bench/bare/"


# --- the database --------------------------------------------------------------------------------------


def database_create() -> None:
    """CREATE DATABASE when missing: migrate cannot make the database it connects to."""
    db = settings.DATABASES["default"]
    with psycopg.connect(
        host=db["HOST"],
        port=db["PORT"] or 5432,
        user=db["USER"],
        password=db["PASSWORD"] or None,
        dbname="postgres",
        autocommit=True,
    ) as conn:
        if conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [db["NAME"]]).fetchone() is None:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(db["NAME"])))


def database_prepare(residents: int) -> None:
    """Schema, demo keys and enough synthetic residents that no table is trivially small."""
    database_create()
    call_command("migrate", interactive=False, verbosity=0)
    missing = max(0, residents - Resident.objects.count())
    if missing:
        print(f"{BENCH}: seeding {missing} residents…", file=sys.stderr, flush=True)
    # seed_demo's own output (the staff password) is not a figure.
    call_command("seed_demo", residents=missing, stdout=io.StringIO())


def logged_in_session(user: User) -> str:
    """A session as the card login leaves it (identity.views._start_session); returns its key."""
    store = import_module(settings.SESSION_ENGINE).SessionStore()
    now = time.time()
    store.update(
        {
            SESSION_KEY: user._meta.pk.value_to_string(user),
            BACKEND_SESSION_KEY: settings.AUTHENTICATION_BACKENDS[0],
            HASH_SESSION_KEY: user.get_session_auth_hash(),
            SESSION_LOGIN_AT: now,
            SESSION_LAST_SEEN: now,
        }
    )
    store.create()
    return store.session_key


def resident_sessions(count: int) -> list[str]:
    """One resident per connection: one resident's history chain would serialise every write on its row."""
    residents = Resident.objects.select_related("user").order_by("pk")[:count]
    return [logged_in_session(resident.user) for resident in residents]


# --- the server ----------------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def gunicorn_start(port: int, workers: int, threads: int, log: Path) -> subprocess.Popen:
    options = f"--bind 127.0.0.1:{port} --workers {workers} --threads {threads}".split()
    command = [sys.executable, "-m", "gunicorn", "portal.wsgi:application", *options]
    with log.open("w") as output:
        return subprocess.Popen(command, cwd=REPO, env=os.environ, stdout=output, stderr=subprocess.STDOUT)


def gunicorn_wait(server: subprocess.Popen, base_url: str, log: Path) -> None:
    for _ in range(120):
        if server.poll() is not None:
            sys.exit(f"{BENCH}: gunicorn exited ({server.returncode}); see {log}")
        try:
            if httpx.get(f"{base_url}/healthz", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.25)
    sys.exit(f"{BENCH}: gunicorn did not answer within 30 s; see {log}")


def gunicorn_stop(server: subprocess.Popen) -> None:
    server.send_signal(signal.SIGTERM)
    try:
        server.wait(timeout=30)
    except subprocess.TimeoutExpired:
        server.kill()
        server.wait()


def require_pages_work(base_url: str, session: str) -> None:
    """Timing a redirect to the login page instead of the dashboard would flatter the dashboard."""
    cookies = {settings.SESSION_COOKIE_NAME: session}
    dashboard = httpx.get(f"{base_url}{DASHBOARD}", cookies=cookies, follow_redirects=False)
    bare = httpx.get(f"{base_url}{BARE}")
    if dashboard.status_code != 200 or 'id="greeting"' not in dashboard.text:
        sys.exit(f"{BENCH}: the dashboard answered {dashboard.status_code}, not the resident's page")
    if bare.status_code != 200 or bare.text != "ok":
        sys.exit(f"{BENCH}: the bare view answered {bare.status_code}")


# --- the load ------------------------------------------------------------------------------------------


def raw_get(path: str, session: str | None = None) -> bytes:
    """A whole HTTP/1.1 request, built once: the client must spend as little CPU as it can per request."""
    lines = [f"GET {path} HTTP/1.1", "Host: 127.0.0.1", "Connection: close"]
    if session:
        lines.append(f"Cookie: {settings.SESSION_COOKIE_NAME}={session}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


async def fetch_status(port: int, request: bytes) -> int:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(request)
        status_line = await reader.readline()
        await reader.read()  # Connection: close, so the response ends when the server closes
    finally:
        writer.close()
    return int(status_line.split()[1])


async def connection_loop(port: int, request: bytes, deadline: float, statuses: Counter) -> None:
    while time.monotonic() < deadline:
        statuses[await fetch_status(port, request)] += 1


async def phase(port: int, requests: list[bytes], seconds: float) -> float:
    """Requests per second answered 200, one client loop per prepared request; any other answer aborts."""
    statuses: Counter = Counter()
    started = time.monotonic()
    await asyncio.gather(*(connection_loop(port, r, started + seconds, statuses) for r in requests))
    elapsed = time.monotonic() - started
    if set(statuses) != {200}:
        sys.exit(f"{BENCH}: unexpected answers {dict(statuses)}")
    return statuses[200] / elapsed


def interleaved_rounds(
    port: int, targets: dict[str, list[bytes]], rounds: int, seconds: float
) -> dict[str, list[float]]:
    names = list(targets)
    rps: dict[str, list[float]] = {name: [] for name in names}
    for index in range(rounds):
        # Rotate which goes first, so a drift in the machine's load favours none of them.
        shift = index % len(names)
        for name in names[shift:] + names[:shift]:
            rps[name].append(asyncio.run(phase(port, targets[name], seconds)))
    return rps


def per_round_ratios(rps: dict[str, list[float]], name: str, baseline: str) -> list[float]:
    """Ratios of phases run seconds apart: the machine's slow and fast moments cancel out."""
    return [value / base for value, base in zip(rps[name], rps[baseline], strict=True)]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--residents", type=int, default=10_000, help="seed up to this many residents")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers (as in the Procfile)")
    parser.add_argument("--threads", type=int, default=1, help="gunicorn threads per worker")
    parser.add_argument("--connections", type=int, default=8, help="concurrent client connections")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--seconds", type=float, default=5.0, help="length of each measured phase")
    args = parser.parse_args()

    database_prepare(args.residents)
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
    port = free_port()
    log = Path(settings.VAR_DIR) / "bench-gunicorn.log"
    server = gunicorn_start(port, args.workers, args.threads, log)
    try:
        gunicorn_wait(server, f"http://127.0.0.1:{port}", log)
        require_pages_work(f"http://127.0.0.1:{port}", sessions[0])
        interleaved_rounds(port, targets, rounds=1, seconds=1.0)  # warm-up: templates, connections
        rps = interleaved_rounds(port, targets, args.rounds, args.seconds)
    finally:
        gunicorn_stop(server)

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
