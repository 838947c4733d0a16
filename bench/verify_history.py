"""Benchmark: wall time of `manage.py verify_history` (every chain, link by link) over the whole bench
database's access history, topped up to at least a million valid records.

Target (issue 3): 1,000,000 records in under 20 s. The records are spread over many residents (about 100
each, over three years, as the portal would have written them); the other benchmarks' records count too.
"""
# ruff: noqa: E402  (Django must be set up before the portal's modules are imported)

import argparse
import io
import random
import sys
import time

from bench.environment import REPO, bench_environment

bench_environment()

from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connections

from bench.database import database_prepare
from bench.figures import report, verdict
from bench.history_data import (
    STALE,
    chain_format_current,
    chains_write,
    default_partition_rows,
    record_count,
    statistics_refresh,
)
from portal.history.models import ChainHead
from portal.identity.models import Resident

BENCH = "verify_history"
LIMIT_S = 20.0
COMMAND = REPO / "portal" / "history" / "management" / "commands" / "verify_history.py"
BATCH_RESIDENTS = 500  # one transaction each: about 50,000 rows


def history_topped_up(total: int, per_resident: int, years: float, rng: random.Random) -> None:
    """Chains for residents who have none, until the table holds `total` records; reused by later runs."""
    missing = total - record_count()
    if missing <= 0:
        return
    print(f"{BENCH}: writing {missing} records…", file=sys.stderr, flush=True)
    started = time.perf_counter()
    while missing > 0:
        without_chain = Resident.objects.exclude(pk__in=ChainHead.objects.values("owner_id"))
        owners = list(without_chain.order_by("pk")[:BATCH_RESIDENTS])
        if not owners:  # every resident has a chain: seed more rather than lengthen theirs
            database_prepare(Resident.objects.count() + 10 * BATCH_RESIDENTS, bench=BENCH)
            continue
        chains = []
        for owner in owners:
            length = min(missing, rng.randint(per_resident // 2, per_resident * 3 // 2))
            chains.append((owner, length))
            missing -= length
            if missing <= 0:
                break
        chains_write(chains, years=years, rng=rng)
    statistics_refresh()
    print(f"{BENCH}: written in {time.perf_counter() - started:.1f} s", file=sys.stderr, flush=True)


def command_wait(seconds: float) -> None:
    """The command may still be being written when the benchmark is; wait for it a while rather than fail."""
    deadline = time.monotonic() + seconds
    while not COMMAND.exists():
        if time.monotonic() > deadline:
            sys.exit(f"{BENCH}: {COMMAND.relative_to(REPO)} does not exist; nothing to time")
        time.sleep(5)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=1_000_000, help="top the history up to this many")
    parser.add_argument("--per-resident", type=int, default=100, help="average chain length written")
    parser.add_argument("--years", type=float, default=3.0, help="the period the records span")
    parser.add_argument("--residents", type=int, default=10_000, help="seed up to this many residents")
    parser.add_argument("--wait", type=float, default=0, help="seconds to wait for the command to exist")
    args = parser.parse_args()

    command_wait(args.wait)
    database_prepare(args.residents, bench=BENCH)
    history_topped_up(args.records, args.per_resident, args.years, random.Random(1))
    sample = Resident.objects.filter(pk__in=ChainHead.objects.values("owner_id")).order_by("pk").first()
    if sample is not None and not chain_format_current(sample):
        sys.exit(f"{BENCH}: {STALE}")
    if rows := default_partition_rows():
        sys.exit(f"{BENCH}: {rows} history rows are in the default partition; a month partition is missing")
    records, chains = record_count(), ChainHead.objects.count()
    connections.close_all()  # the command opens its own, as `manage.py verify_history` would

    output = io.StringIO()
    started, cpu_started = time.perf_counter(), time.process_time()
    try:
        call_command("verify_history", stdout=output)
        intact = True
    except CommandError as error:
        intact = False
        print(f"{BENCH}: {error}", file=sys.stderr)
        print(output.getvalue(), file=sys.stderr, end="")
    seconds, cpu_seconds = time.perf_counter() - started, time.process_time() - cpu_started

    passed = intact and seconds < LIMIT_S
    note = f"limit < {LIMIT_S:g} s: {verdict(passed)}" + ("" if intact else " (verification failed)")
    report(BENCH, "wall", seconds, "s", f"{note} ({records} records in {chains} chains)")
    report(BENCH, "cpu", cpu_seconds, "s", "(this process: hashing and reading rows)")
    report(BENCH, "records_per_second", records / seconds, "rec/s")
    report(BENCH, "wall_per_million", seconds * 1_000_000 / records, "s", "(informative)")
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())
