"""Benchmark: the consent API's token endpoint and resource endpoint, requests per second beside a bare Django
view served by the same gunicorn in the same run, in interleaved rounds.

Targets (issue 8): the token endpoint (authorization-code exchanges, each with its own code, PKCE verifier,
private_key_jwt client assertion and DPoP proof) at least a quarter of the bare view's rate; the resource
endpoint (GET /api/v1/information/income_tax with a DPoP-bound token and a fresh proof, each release
recorded in the resident's access history before the answer) at least 40 %. Writes only to this
benchmark's own firm and residents.
"""
# ruff: noqa: E402  (Django must be set up before the portal's modules are imported)

import argparse
import json
import os
import sys
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

import httpx

from bench.environment import bench_environment

bench_environment()

from django.conf import settings
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from joserfc import jwt
from joserfc.jwk import KeySet

from bench import consent_data as data
from bench.database import database_prepare
from bench.figures import median, report, verdict
from bench.load import (
    PreparedPhases,
    fetch_blocking,
    interleaved_rounds,
    load_options,
    per_round_ratios,
    raw_get,
    raw_post,
)
from bench.notices_data import bench_var
from bench.server import free_port, gunicorn_serving
from portal.consents.models import AuthorizationCode, Consent, IssuedToken
from portal.history.models import ActorType, ReleaseRecord
from portal.identity.models import Resident

BENCH = "consent_api"
TOKEN = "/oauth/token"
RESOURCE = f"/api/v1/information/{data.CATEGORY}"
BARE = "/bench/bare/"
TOKEN_TARGET = 0.25
RESOURCE_TARGET = 0.40
# The firm's and the token endpoint's rate limits, raised so that they are counted on every call (the
# Redis round trip stays in the figures) but never reached.
RATE_PER_MINUTE = 1_000_000_000


class TokenExchanges:
    """Authorization-code exchanges made just before their phase: the codes written, as the authorization
    endpoint leaves them, then one request each with the code's verifier, a client assertion and a DPoP
    proof of their own."""

    def __init__(self, signer: data.FirmSigner, consents: list[Consent]) -> None:
        self.signer = signer
        self.consents = consents
        self.issued = 0

    def __call__(self, count: int) -> list[bytes]:
        codes = data.codes_issued(self.consents, count, start=self.issued)
        self.issued += count
        return [self.request(code) for code in codes]

    def request(self, code: data.IssuedCode) -> bytes:
        form = {
            "grant_type": "authorization_code",
            "code": code.code,
            "redirect_uri": data.REDIRECT_URI,
            "code_verifier": code.verifier,
            "client_assertion_type": data.ASSERTION_TYPE,
            "client_assertion": self.signer.assertion(),
        }
        headers = {"DPoP": self.signer.dpop("POST", TOKEN)}
        return raw_post(
            TOKEN, urlencode(form).encode(), content_type="application/x-www-form-urlencoded", headers=headers
        )


class ResourceReads:
    """Reads of the income with the consents' tokens in turn, each with a fresh DPoP proof (with ath). The
    tokens are issued again whenever they have less than two minutes left."""

    def __init__(self, signer: data.FirmSigner, consents: list[Consent]) -> None:
        self.signer = signer
        self.consents = consents
        self.tokens: list[str] = []
        self.expires_at = timezone.now()
        self.read = 0

    def __call__(self, count: int) -> list[bytes]:
        if self.expires_at - timezone.now() < data.TOKEN_MARGIN:
            self.tokens, self.expires_at = data.tokens_issued(self.consents, self.signer.jkt)
        requests = []
        for _ in range(count):
            requests.append(self.request(self.tokens[self.read % len(self.tokens)]))
            self.read += 1
        return requests

    def request(self, token: str) -> bytes:
        proof = self.signer.dpop("GET", RESOURCE, access_token=token)
        return raw_get(RESOURCE, headers={"Authorization": f"DPoP {token}", "DPoP": proof})


def _body(response: bytes) -> dict[str, Any]:
    return json.loads(response.split(b"\r\n\r\n", 1)[1] or b"{}")


def firm_records(residents: list[Resident]):
    return ReleaseRecord.objects.filter(
        owner__in=residents, category=data.CATEGORY, actor_type=ActorType.FIRM
    )


def require_exchange_and_release(
    port: int, exchanges: TokenExchanges, reads: ResourceReads, residents: list[Resident], income: dict
) -> None:
    """One code exchanged for a DPoP-bound token, a refresh token (periodic access) and an ID token signed by
    the portal for this firm; that token then reads the first resident's income, answered 200 with exactly
    the cached data and recorded once in their history. A refusal would flatter either rate."""
    status, response = fetch_blocking(port, exchanges(1)[0])
    answer = _body(response)
    if status != 200 or answer.get("token_type") != "DPoP" or "refresh_token" not in answer:
        sys.exit(f"{BENCH}: the token endpoint answered {status}: {answer}")
    portal_keys = KeySet.import_key_set(httpx.get(f"http://127.0.0.1:{port}/oauth/jwks").json())
    claims = jwt.decode(answer["id_token"], portal_keys).claims
    if claims.get("iss") != settings.OIDC_ISSUER or claims.get("aud") != [data.CLIENT_ID]:
        sys.exit(f"{BENCH}: the ID token names {claims.get('iss')} for {claims.get('aud')}")
    records = firm_records(residents[:1])
    before = records.count()
    status, response = fetch_blocking(port, reads.request(answer["access_token"]))
    released = _body(response)
    if status != 200 or released.get("data") != income:
        sys.exit(f"{BENCH}: the resource endpoint answered {status}: {str(released)[:300]}")
    if records.count() != before + 1:
        sys.exit(f"{BENCH}: the read wrote {records.count() - before} history records, not one")
    if httpx.get(f"http://127.0.0.1:{port}{BARE}").text != "ok":
        sys.exit(f"{BENCH}: the bare view does not answer")


# --- in process: where a request's time goes ---------------------------------------------------------------


class Stopwatch:
    """Wraps functions in place to add up their wall and CPU time (`time.thread_time`) per figure."""

    def __init__(self) -> None:
        self.wall: dict[str, float] = {}
        self.cpu: dict[str, float] = {}
        self._undo: list[tuple[Any, str, Any]] = []

    def wrap(self, owner: Any, name: str, figure: str) -> None:
        original = getattr(owner, name)  # on a class, the plain function, perhaps inherited
        self.wall[figure] = self.cpu[figure] = 0.0

        def timed(*args: Any, **kwargs: Any) -> Any:
            wall, cpu = time.perf_counter(), time.thread_time()
            try:
                return original(*args, **kwargs)
            finally:
                self.wall[figure] += time.perf_counter() - wall
                self.cpu[figure] += time.thread_time() - cpu

        self._undo.append((owner, name, original if name in vars(owner) else None))
        setattr(owner, name, timed)

    def restore(self) -> None:
        for owner, name, original in reversed(self._undo):
            if original is None:
                delattr(owner, name)  # inherited again
            else:
                setattr(owner, name, original)
        self._undo.clear()


def _pieces() -> list[tuple[Any, str, str, str, bool]]:
    """What the issue names in each request, and the rest of the portal's own work: (where, function,
    figure, what it is, whether it is a top-level piece of its request, so that the rest can be told)."""
    from portal.consents import resource, server, views

    return [
        (views, "_oauth_rate_limit", "token_rate_limit", "the token endpoint's rate limit (Redis)", True),
        (views, "dpop_verify", "token_dpop", "the DPoP proof checked, its jti added to Redis", True),
        (
            server.PrivateKeyJWTAuthentication,
            "__call__",
            "token_client_auth",
            "private_key_jwt: the client read, its JWKS imported, the assertion verified, jti to Redis",
            True,
        ),
        (
            server.CodeGrant,
            "query_authorization_code",
            "token_code",
            "the code read and taken (UPDATE)",
            True,
        ),
        (server.CodeGrant, "authenticate_user", "token_consent", "consent, firm and client checked", True),
        (
            server.ConsentOpenIDCode,
            "process_token",
            "token_id_token",
            "the ID token: pairwise sub, ES256",
            True,
        ),
        (server.ConsentAuthorizationServer, "save_token", "token_save", "the token's row written", True),
        (resource, "api_token", "read_auth", "token, consent, firm and client read; proof; rate limit", True),
        (resource, "dpop_verify", "read_dpop", "within read_auth: the proof checked (with ath), jti", False),
        (resource, "rate_limit", "read_rate_limit", "within read_auth: the firm's rate limit (Redis)", False),
        (resource, "information_release", "read_release", "checks, cached read, record, pull", True),
        (
            resource,
            "myinfo_held",
            "read_cached",
            "within read_release: the entry read, decrypted, parsed",
            False,
        ),
        (
            resource,
            "release_record",
            "read_history",
            "within read_release: the history record committed",
            False,
        ),
        (
            resource.services,
            "pull_record",
            "read_pull",
            "within read_release: the pull and last use written",
            False,
        ),
    ]


def in_process(exchanges: TokenExchanges, reads: ResourceReads, requests: int) -> None:
    """Reports CPU per request of each of the three through one Django test client (a new one rebuilds the
    handler), taking turns, the queries of one of each, and the time of the pieces of _pieces()."""
    http = Client(HTTP_HOST="127.0.0.1")
    codes = data.codes_issued(exchanges.consents, requests + 1, start=exchanges.issued)
    exchanges.issued += len(codes)
    reads(0)  # tokens good for the rest of the run

    def token(code: data.IssuedCode) -> Callable[[], Any]:
        form = exchanges.request(code).split(b"\r\n\r\n", 1)[1]
        proof = exchanges.signer.dpop("POST", TOKEN)
        content_type = "application/x-www-form-urlencoded"
        return lambda: http.post(TOKEN, form, content_type=content_type, HTTP_DPOP=proof)

    def read(index: int) -> Callable[[], Any]:
        access = reads.tokens[index % len(reads.tokens)]
        proof = reads.signer.dpop("GET", RESOURCE, access_token=access)
        return lambda: http.get(RESOURCE, HTTP_AUTHORIZATION=f"DPoP {access}", HTTP_DPOP=proof)

    def bare() -> Any:
        return http.get(BARE)

    queries = {}
    for name, call in (("token", token(codes[0])), ("read", read(0)), ("bare", bare)):
        with CaptureQueriesContext(connection) as captured:
            if call().status_code != 200:
                sys.exit(f"{BENCH}: in process, {name} did not answer 200")
        queries[name] = len(captured.captured_queries)

    cpu = {"token": 0.0, "read": 0.0, "bare": 0.0}
    pieces = _pieces()
    watch = Stopwatch()
    for owner, function, figure, _, _ in pieces:
        watch.wrap(owner, function, figure)
    try:
        for index in range(requests):
            # Signed just before, outside the timing, as the load generator does; a proof lives 60 s.
            calls = {"token": token(codes[index + 1]), "read": read(index + 1), "bare": bare}
            for name, call in calls.items():
                started = time.thread_time()
                status = call().status_code
                cpu[name] += time.thread_time() - started
                if status != 200:
                    sys.exit(f"{BENCH}: in process, {name} answered {status}")
    finally:
        watch.restore()

    note = f"CPU per request in process (one test client, {requests} each, taking turns)"
    for name, total in cpu.items():
        report(BENCH, f"inproc_{name}_cpu", total * 1000 / requests, "ms", f"{note}; {queries[name]} queries")
    for _, _, figure, what, _ in pieces:
        cpu_ms = watch.cpu[figure] * 1000 / requests
        report(
            BENCH, figure, watch.wall[figure] * 1000 / requests, "ms", f"wall (CPU {cpu_ms:.3f} ms): {what}"
        )
    for request, prefix in (("token", "token_"), ("read", "read_")):
        top = sum(watch.cpu[figure] for _, _, figure, _, top in pieces if top and figure.startswith(prefix))
        rest = (cpu[request] - top) * 1000 / requests
        report(BENCH, f"{prefix}rest_cpu", rest, "ms", "CPU outside the pieces: authlib/DRF and Django")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--residents", type=int, default=10_000, help="seed up to this many residents")
    parser.add_argument("--consents", type=int, default=500, help="residents who consented to the firm")
    load_options(parser)
    parser.add_argument("--prepared", type=int, default=1_500, help="least requests prepared per phase")
    parser.add_argument("--profile", type=int, default=200, help="requests of each timed in process")
    args = parser.parse_args()

    # The issuer is the origin served, so that audiences and DPoP's htu name what the firm really calls;
    # gunicorn reads both from the environment.
    port = free_port()
    os.environ["OIDC_ISSUER"] = settings.OIDC_ISSUER = f"http://127.0.0.1:{port}"
    os.environ["CONSENT_API_RATE_PER_MINUTE"] = str(RATE_PER_MINUTE)
    settings.CONSENT_API_RATE_PER_MINUTE = RATE_PER_MINUTE

    database_prepare(args.residents, bench=BENCH)
    client, purpose, client_key = data.firm_registered(bench_var("consent"))
    residents = data.bench_residents(args.consents, bench=BENCH)
    consents = data.consents_active(residents, client, purpose)
    income = data.income_payload(bench=BENCH)
    payload_bytes = data.income_cached(residents, income)
    data.credentials_cleared(client)
    signer = data.FirmSigner(issuer=settings.OIDC_ISSUER, client_key=client_key)
    exchanges, reads = TokenExchanges(signer, consents), ResourceReads(signer, consents)
    token_phases = PreparedPhases(exchanges, connections=args.connections, initial=args.prepared)
    read_phases = PreparedPhases(reads, connections=args.connections, initial=args.prepared)
    records = firm_records(residents)
    records_before = records.count()

    targets = {"token": token_phases, "resource": read_phases, "bare": [raw_get(BARE)] * args.connections}
    try:
        with gunicorn_serving(workers=args.workers, threads=args.threads, bench=BENCH, port=port):
            require_exchange_and_release(port, exchanges, reads, residents, income)
            # Warm-up: connections and caches in each worker; sizes the supplies.
            interleaved_rounds(port, targets, rounds=1, seconds=1.0, bench=BENCH)
            for phases in (token_phases, read_phases):
                phases.sized_for(args.seconds)
            rps = interleaved_rounds(port, targets, args.rounds, args.seconds, bench=BENCH)
            token_phases.settle()
            read_phases.settle()
    except RuntimeError as error:
        sys.exit(f"{BENCH}: {error} (--prepared)")

    # Every exchange answered 200 took its code and wrote its token; every read wrote one record.
    exchanged = 1 + token_phases.sent
    tokens = IssuedToken.objects.filter(client=client, code__isnull=False).count()
    taken = AuthorizationCode.objects.filter(client=client, used_at__isnull=False).count()
    if tokens != exchanged or taken != exchanged:
        sys.exit(f"{BENCH}: {exchanged} exchanges answered 200, but {taken} codes taken, {tokens} tokens")
    released = 1 + read_phases.sent
    written = records.count() - records_before
    if written != released:
        sys.exit(f"{BENCH}: {released} reads answered 200 but the histories got {written} records")

    setup = (
        f"(median of {args.rounds} rounds × {args.seconds:g} s; gunicorn workers={args.workers} "
        f"threads={args.threads}; connections={args.connections})"
    )
    token_ratio = median(per_round_ratios(rps, "token", "bare"))
    read_ratio = median(per_round_ratios(rps, "resource", "bare"))
    report(BENCH, "token_rps", median(rps["token"]), "req/s", f"POST {TOKEN} {setup}")
    report(BENCH, "resource_rps", median(rps["resource"]), "req/s", f"GET {RESOURCE}")
    report(BENCH, "bare_rps", median(rps["bare"]), "req/s", f"{BARE} (anonymous)")
    report(
        BENCH,
        "ratio_token",
        token_ratio,
        "",
        f"token/bare (≥ {TOKEN_TARGET}) {verdict(token_ratio >= TOKEN_TARGET)}",
    )
    report(
        BENCH,
        "ratio_resource",
        read_ratio,
        "",
        f"resource/bare (≥ {RESOURCE_TARGET}) {verdict(read_ratio >= RESOURCE_TARGET)}",
    )
    for name in ("token", "resource"):
        cost = median([(1 / a - 1 / b) * 1000 for a, b in zip(rps[name], rps["bare"], strict=True)])
        report(BENCH, f"cost_per_{name}", cost, "ms", f"1/{name} − 1/bare (informative)")
    report(BENCH, "assertion_sign", signer.mean_ms("assertion"), "ms", "ES256 client assertion, untimed")
    report(BENCH, "dpop_sign", signer.mean_ms("dpop"), "ms", "ES256 DPoP proof, untimed")
    report(BENCH, "exchanges", exchanged, "", "answered 200: a code taken and a token written each")
    report(BENCH, "history_records", written, "rows", f"{data.CATEGORY} by the firm: one per read")
    report(BENCH, "payload", payload_bytes, "bytes", f"{data.PERSON}'s income JSON, encrypted in the cache")

    if args.profile:
        in_process(exchanges, reads, args.profile)
    return 0 if token_ratio >= TOKEN_TARGET and read_ratio >= RESOURCE_TARGET else 1


if __name__ == "__main__":
    sys.exit(main())
