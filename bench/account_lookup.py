"""Benchmark: agencies' look-ups of residents' public-fund accounts per second, each recorded in the
resident's access history before it is answered, beside a bare Django view served by the same gunicorn in
the same run, in interleaved rounds.

Issue 6 asks only that the rate be reported beside a bare Django view: the ratio is informative, with no
pass or fail. The benchmark fails only if a look-up is refused or the history misses a record.
"""
# ruff: noqa: E402  (Django must be set up before the portal's modules are imported)

import argparse
import json
import sys
import time

import httpx

from bench.environment import bench_environment

bench_environment()

from django.db import connections
from joserfc.jwk import ECKey

from bench.account_data import (
    LOOKUP_NUMBERS,
    account_residents,
    agency_codes_indexed,
    verified_accounts,
)
from bench.database import database_prepare
from bench.figures import median, report
from bench.load import (
    PreparedPhases,
    fetch_blocking,
    interleaved_rounds,
    load_options,
    per_round_ratios,
    raw_get,
    raw_post,
)
from bench.notices_data import agency_client_registered, assertion, bench_var
from bench.server import gunicorn_serving
from portal.agencies.codes import agency_code
from portal.history.models import ReleaseRecord
from portal.identity.models import Resident

BENCH = "account_lookup"
API = "/api/agency/v1/public-fund-accounts/lookups"
BARE = "/bench/bare/"
AGENCY_ID = "municipal-child"
CLIENT_ID = "bench-account"
PURPOSE = "児童手当の支給（令和8年2月期）"
CATEGORY = "public_fund_account"


class Lookups(PreparedPhases):
    """Look-up requests made just before each phase, untimed, each with a client assertion of its own (a
    fresh jti: the API refuses a replay), the residents taken in turn. Counts what was sent and signed."""

    def __init__(self, key: ECKey, bodies: list[bytes], *, connections: int, initial: int) -> None:
        super().__init__(
            lambda count: [self.request() for _ in range(count)], connections=connections, initial=initial
        )
        self.key = key
        self.bodies = bodies
        self.signing_seconds = 0.0
        self.signed = 0
        self._resident = 0

    def request(self) -> bytes:
        body = self.bodies[self._resident % len(self.bodies)]
        self._resident += 1
        started = time.perf_counter()
        token = assertion(self.key, client_id=CLIENT_ID)
        self.signing_seconds += time.perf_counter() - started
        self.signed += 1
        headers = {"Authorization": f"Bearer {token}"}
        return raw_post(API, body, content_type="application/json", headers=headers)


def require_lookup_recorded(port: int, lookups: Lookups, resident: Resident, number: str) -> None:
    """The first resident's account, answered 200, and one record in their history: a refusal (404, 409)
    costs no record and would flatter the rate."""
    records = ReleaseRecord.objects.filter(owner=resident, category=CATEGORY)
    before = records.count()
    status, response = fetch_blocking(port, lookups.request())
    lookups.sent += 1
    answer = json.loads(response.split(b"\r\n\r\n", 1)[1] or b"{}")
    if status != 200 or answer.get("account_number") != number:
        sys.exit(f"{BENCH}: the look-up answered {status}: {answer}")
    if records.count() != before + 1:
        sys.exit(f"{BENCH}: the look-up wrote {records.count() - before} history records, not one")
    if httpx.get(f"http://127.0.0.1:{port}{BARE}").text != "ok":
        sys.exit(f"{BENCH}: the bare view does not answer")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--residents", type=int, default=10_000, help="seed up to this many residents")
    parser.add_argument("--accounts", type=int, default=1_000, help="residents with a verified account")
    load_options(parser)
    parser.add_argument("--assertions", type=int, default=2_000, help="least prepared per phase")
    args = parser.parse_args()

    database_prepare(args.residents, bench=BENCH)
    residents = account_residents("lookup", args.accounts, bench=BENCH)
    written = verified_accounts(residents)
    indexed = agency_codes_indexed(residents, AGENCY_ID)
    _, key = agency_client_registered(
        bench_var("account"), client_id=CLIENT_ID, agency_id=AGENCY_ID, name="ベンチマーク 児童手当 口座照会"
    )
    bodies = [
        json.dumps(
            {"agency_code": agency_code(my_number=r.my_number, agency_id=AGENCY_ID), "purpose": PURPOSE},
            ensure_ascii=False,
        ).encode()
        for r in residents
    ]
    lookups = Lookups(key, bodies, connections=args.connections, initial=args.assertions)
    histories = ReleaseRecord.objects.filter(owner__in=residents, category=CATEGORY)
    records_before = histories.count()

    targets = {"lookup": lookups, "bare": [raw_get(BARE)] * args.connections}
    try:
        with gunicorn_serving(workers=args.workers, threads=args.threads, bench=BENCH) as port:
            require_lookup_recorded(port, lookups, residents[0], f"{LOOKUP_NUMBERS:07d}")
            connections.close_all()  # this process only drives the load from here on
            # Warm-up: connections, the JWKS and the bank data in each worker; sizes the supply.
            interleaved_rounds(port, targets, rounds=1, seconds=1.0, bench=BENCH)
            lookups.sized_for(args.seconds)
            rps = interleaved_rounds(port, targets, args.rounds, args.seconds, bench=BENCH)
            lookups.settle()
    except RuntimeError as error:
        sys.exit(f"{BENCH}: {error} (--assertions)")

    records = histories.count() - records_before
    if records != lookups.sent:
        sys.exit(f"{BENCH}: {lookups.sent} look-ups answered 200 but the histories got {records} records")

    ratio = median(per_round_ratios(rps, "lookup", "bare"))
    setup = (
        f"(median of {args.rounds} rounds × {args.seconds:g} s; gunicorn workers={args.workers} "
        f"threads={args.threads}; connections={args.connections})"
    )
    report(BENCH, "lookup_rps", median(rps["lookup"]), "req/s", f"POST {API} {setup}")
    report(BENCH, "bare_rps", median(rps["bare"]), "req/s", f"{BARE} (anonymous)")
    report(BENCH, "ratio", ratio, "", "lookup/bare (informative: issue 6 sets no target)")
    pairs = zip(rps["lookup"], rps["bare"], strict=True)
    cost_ms = median([(1 / lookup - 1 / bare) * 1000 for lookup, bare in pairs])
    report(BENCH, "cost_per_lookup", cost_ms, "ms", "1/lookup − 1/bare (informative)")
    report(
        BENCH,
        "assertion_sign",
        lookups.signing_seconds * 1000 / lookups.signed,
        "ms",
        f"ES256, {lookups.signed} made before their phases, untimed",
    )
    report(BENCH, "lookups", lookups.sent, "", "answered 200, each with its own assertion (jti)")
    report(BENCH, "history_records", records, "rows", f"{CATEGORY}: one per look-up")
    report(
        BENCH,
        "accounts",
        len(residents),
        "rows",
        f"verified, unflagged ({written} written now), codes indexed for {AGENCY_ID} ({indexed} now)",
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
