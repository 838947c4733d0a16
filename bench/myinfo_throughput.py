"""Benchmark: fetches per second of the whole refresh pipeline (myinfo_refresh_start, the broker, a real
fetch worker, checks, encryption, the database) against what the agency simulator alone serves to a client
issuing the same signed GETs with the same concurrency, in interleaved rounds of the same run.

Target (issue 4): refreshing 1,000 residents, the pipeline reaches at least 80% of the simulator's rate.
The simulator knows only the demo people, so the 1,000 resident-refreshes cycle through them.
"""
# ruff: noqa: E402  (Django must be set up before the portal's modules are imported)

import argparse
import sys
import time
from concurrent.futures import ThreadPoolExecutor

from bench.environment import bench_environment

bench_environment()

from django.conf import settings
from django.db import connections

from bench.agencies import (
    PEOPLE,
    agency_simulator,
    cpu_seconds,
    database_backends_cpu,
    demo_resident,
    fetch_worker,
    fetching,
    not_done,
    resident_memory_kib,
)
from bench.database import database_prepare
from bench.figures import median, report, verdict
from portal.agencies.client import AgencyError, agency_get
from portal.agencies.codes import agency_code
from portal.identity.models import Resident
from portal.myinfo.models import MYINFO_CATEGORIES
from portal.myinfo.services import agency_for_category, myinfo_refresh_start

BENCH = "myinfo_throughput"
MIN_RATIO = 0.8
POLL_SECONDS = 0.02
# The mis-link case would add quarantines and mis-link reports the simulator-alone client never makes.
PEOPLE_TIMED = [person_id for person_id, person in PEOPLE.items() if "mislink" not in person]

Request = tuple[str, str]  # agency id, path


def refresh_requests(resident: Resident) -> list[Request]:
    """The GETs one full refresh of the resident makes, as category_fetch makes them."""
    requests = []
    for category in MYINFO_CATEGORIES:
        agency = agency_for_category(category)
        code = agency_code(my_number=resident.my_number, agency_id=agency.id)
        requests.append((agency.id, f"residents/{code}/self-information/{category}"))
    return requests


def simulator_alone(requests: list[Request], concurrency: int) -> float:
    """Requests per second: the portal's agency client in as many threads as the worker has, no Celery."""

    def get(request: Request) -> None:
        agency_id, path = request
        agency_get(agency_id=agency_id, path=path, max_bytes=settings.MYINFO_MAX_PAYLOAD_BYTES)

    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=concurrency) as pool:
        try:
            list(pool.map(get, requests))
        except AgencyError as error:
            sys.exit(f"{BENCH}: the simulator refused a request the pipeline makes: {error}")
    return len(requests) / (time.perf_counter() - started)


def pipeline(residents: list[Resident], refreshes: int) -> float:
    """Fetches per second for `refreshes` full refreshes, cycling through the residents: each is refreshed
    again as soon as its last refresh ended, so the queue never runs dry. Every refresh fetches anew.
    """
    by_id = {resident.pk: resident for resident in residents}
    in_flight: set[int] = set()
    asked = done = 0
    started = time.perf_counter()
    while done < refreshes:
        for resident_id in in_flight - fetching(list(in_flight)):
            in_flight.discard(resident_id)
            done += 1
            if failed := not_done(by_id[resident_id], list(MYINFO_CATEGORIES)):
                sys.exit(f"{BENCH}: a refresh of resident {resident_id} did not bring everything: {failed}")
        for resident_id in by_id.keys() - in_flight:
            if asked == refreshes:
                break
            if len(myinfo_refresh_start(resident=by_id[resident_id])) != len(MYINFO_CATEGORIES):
                sys.exit(f"{BENCH}: a refresh did not queue every category")
            in_flight.add(resident_id)
            asked += 1
        time.sleep(POLL_SECONDS)
    return refreshes * len(MYINFO_CATEGORIES) / (time.perf_counter() - started)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--refreshes", type=int, default=70, help="resident-refreshes per round")
    parser.add_argument("--latency-ms", type=int, default=0, help="every agency's answer delay")
    parser.add_argument("--concurrency", type=int, default=12, help="fetch worker threads (the Procfile's)")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--residents", type=int, default=10_000, help="seed up to this many residents")
    args = parser.parse_args()

    database_prepare(args.residents, bench=BENCH)
    residents = [demo_resident(person_id) for person_id in PEOPLE_TIMED]
    requests = [request for resident in residents for request in refresh_requests(resident)]
    # The same requests as the pipeline's refreshes, in the same order of residents.
    count = args.refreshes * len(MYINFO_CATEGORIES)
    alone_requests = (requests * (count // len(requests) + 1))[:count]
    rates: dict[str, list[float]] = {"pipeline": [], "alone": []}
    # CPU seconds per phase, of the worker, the simulator and this process (the simulator-alone client).
    cpu: dict[str, dict[str, float]] = {
        phase: {"worker": 0, "simulator": 0, "client": 0, "postgres": 0} for phase in rates
    }
    with (
        agency_simulator(bench=BENCH, latency_ms=args.latency_ms) as simulator,
        fetch_worker(concurrency=args.concurrency, bench=BENCH) as worker,
    ):
        pids = {"worker": worker.pid, "simulator": simulator.process.pid}

        def cpu_now() -> dict[str, float]:
            return {**{name: cpu_seconds(pid) for name, pid in pids.items()}, "client": time.process_time()}

        def postgres_cpu(before: dict[int, float]) -> float:
            # The backends connected to the bench database; one that ended within the phase is missed.
            return sum(seconds - before.get(pid, 0) for pid, seconds in database_backends_cpu().items())

        # Warm-up, and a check that every category of every resident arrives.
        pipeline(residents, len(residents))
        simulator_alone(requests, args.concurrency)
        for index in range(args.rounds):
            # Rotate which goes first, so a drift in the machine's load favours neither.
            for phase in ["pipeline", "alone"] if index % 2 == 0 else ["alone", "pipeline"]:
                before, backends_before = cpu_now(), database_backends_cpu()
                if phase == "pipeline":
                    rates[phase].append(pipeline(residents, args.refreshes))
                else:
                    rates[phase].append(simulator_alone(alone_requests, args.concurrency))
                for name, seconds in cpu_now().items():
                    cpu[phase][name] += seconds - before[name]
                cpu[phase]["postgres"] += postgres_cpu(backends_before)
        rss_kib, peak_kib = resident_memory_kib(worker.pid)
    connections.close_all()

    ratios = [p / a for p, a in zip(rates["pipeline"], rates["alone"], strict=True)]
    ratio = median(ratios)
    passed = ratio >= MIN_RATIO
    setup = (
        f"(median of {args.rounds} rounds × {args.refreshes} refreshes × {len(MYINFO_CATEGORIES)} "
        f"categories, {len(residents)} demo residents in turn; every agency {args.latency_ms} ms; "
        f"threads={args.concurrency})"
    )
    report(BENCH, "pipeline_rps", median(rates["pipeline"]), "req/s", setup)
    report(BENCH, "simulator_alone_rps", median(rates["alone"]), "req/s", "(agency_get in as many threads)")
    report(BENCH, "ratio", ratio, "", f"pipeline/simulator alone, limit ≥ {MIN_RATIO:g}: {verdict(passed)}")
    per_refresh = median([len(MYINFO_CATEGORIES) / rate for rate in rates["pipeline"]]) * 1000
    report(BENCH, "refresh_cost", per_refresh, "ms", "(one resident's 12 categories, at the pipeline's rate)")
    # Where the CPU goes, per fetch: the two cores are shared by all of these and by PostgreSQL and Redis.
    fetches = args.rounds * count
    # The pipeline's client is this process starting refreshes (as the web does) and polling for their end;
    # postgres, the backends of the bench database (the worker's and this process's connections).
    for phase, names in (
        ("pipeline", ("worker", "simulator", "client", "postgres")),
        ("alone", ("client", "simulator")),
    ):
        for name in names:
            report(
                BENCH,
                f"{phase}_{name}_cpu",
                cpu[phase][name] * 1000 / fetches,
                "ms",
                "CPU per fetch (informative)",
            )
    report(BENCH, "worker_rss", rss_kib / 1024, "MiB", "(fetch worker after the rounds, VmRSS with children)")
    report(BENCH, "worker_rss_peak", peak_kib / 1024, "MiB", "(VmHWM)")
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())
