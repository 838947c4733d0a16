"""Benchmark: what checking a proxy's scopes adds to a page's server time, against the resident's own view
of the same page, measured in the same run.

Target (issue 7): at most 10 % more. The page is /myinfo/medical_drugs/ (--category: another medical one)
with the principal's data in the cache, served by gunicorn as in production and requested one at a time:
(a) the principal viewing their own data, (b) their proxy acting for them under an active grant with the
medical scope. Both views record a release in the principal's history (SPEC 2.3, intended); only the
actor differs. (b)'s principal has turned the alert on proxy reads off, so the grant check is the
difference; (c), a proxy read alerting its principal as by default (a ReleaseAlert row and a push
queued), is timed beside them for information. Writes only to this benchmark's own residents.
"""
# ruff: noqa: E402  (Django must be set up before the portal's modules are imported)

import argparse
import datetime as dt
import json
import re
import sys
import time
import uuid
from collections import Counter
from importlib import import_module

import httpx

from bench.environment import bench_environment

bench_environment()

from django.conf import settings
from django.db import connection, connections
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from django.utils.html import escape

from bench.database import database_prepare, logged_in_session
from bench.figures import latency_report, median, p95, report, verdict
from bench.load import raw_get, sequential_rounds
from bench.residents import demo_identity, demo_people, entries_cached, residents_ensure, simulator_data
from bench.server import gunicorn_serving
from portal.celery import QUEUE_DEFAULT
from portal.celery import app as celery_app
from portal.core.crypto import lookup_hash
from portal.history.models import ActorType, AlertPreference, ReleaseAlert, ReleaseRecord
from portal.identity.models import Resident
from portal.identity.services import StepUpProof
from portal.proxies import services
from portal.proxies.access import SESSION_ACTING
from portal.proxies.models import GrantState, ProxyGrant
from portal.proxies.scopes import MEDICAL_CATEGORIES, MEDICAL_SCOPE, scope_for_category

BENCH = "proxy_scope"
LIMIT = 1.10
CATEGORY = "medical_drugs"  # --category: any of the medical ones, all under the one medical scope
BARE = "/bench/bare/"
WARMUP = 10
PREFIX = "bench-proxy-scope-"
TOWN = "ベンチ県代理市"
# Whose data the principals hold: the demo's elderly father, whose medical_drugs payload is the longest the
# simulator generates (about 34 KB, 60-odd dispensings), and his daughter as the proxy, as in the tests.
PERSON, PROXY_PERSON = "tanaka-kazuo", "tanaka-yuki"
# The principal of (a) and (b), alerts on proxy reads turned off; the principal of (c), alerts as by
# default, with the same medicines; the proxy of both.
PRINCIPAL, ALERTED, PROXY = f"{PREFIX}principal", f"{PREFIX}principal-alerted", f"{PREFIX}proxy"
# A grant that ends sooner than this is replaced, so no run starts with a grant about to run out.
GRANT_MARGIN = dt.timedelta(days=30)
DATA = re.compile(r'<section class="card" id="data">.*?</section>', re.DOTALL)
BANNER = re.compile(r'<div class="acting-banner" id="acting-banner".*?</div>', re.DOTALL)
FROM = re.compile(r'(?:FROM|INTO|UPDATE) "?([a-z_]+)')


def bench_residents() -> dict[str, Resident]:
    """The two principals and the proxy, by username (bench-proxy-scope-…), made once, in bulk.

    The demo people's names and birth dates, but My Numbers of their own: the demo residents of the
    issue-4 benchmarks hold the real ones. All live in a town of their own, which no other benchmark's
    notices are addressed to.
    """
    people = demo_people()
    wanted = {PRINCIPAL: people[PERSON], ALERTED: people[PERSON], PROXY: people[PROXY_PERSON]}
    address = f"{TOWN}一丁目1番地"
    return residents_ensure(
        wanted, lambda username, _rng: demo_identity(wanted[username], address=address), bench=BENCH
    )


def category_payload(category: str) -> dict:
    """The category's `data` the agency simulator generates for the demo father today, with records to
    show."""
    data = simulator_data(category, PERSON, bench=BENCH)
    if not distinctive_text(data):
        sys.exit(f"{BENCH}: the simulator gave {PERSON} no {category} records; the page would be empty")
    return data


def distinctive_text(data: object) -> str:
    """The first text value in Japanese (a pharmacy, a clinic): the page shows it as it is."""
    if isinstance(data, str):
        return data if not data.isascii() else ""
    values = data.values() if isinstance(data, dict) else data if isinstance(data, list) else []
    return next((text for value in values if (text := distinctive_text(value))), "")


def grant_active(principal: Resident, proxy: Resident) -> ProxyGrant:
    """An active grant with the medical scope, made through the services as the pages make it; reused by
    later runs while it has a month to run."""
    grant = (
        ProxyGrant.objects.filter(
            principal=principal,
            proxy=proxy,
            state=GrantState.ACTIVE,
            review_required=False,
            scopes=[MEDICAL_SCOPE],
            ends_on__gte=timezone.localdate() + GRANT_MARGIN,
        )
        .order_by("-confirmed_at")
        .first()
    )
    if grant is not None:
        return grant
    services.grants_end_all(principal=principal)  # an earlier run's, about to run out
    grant, code = services.invitation_create(
        principal=principal,
        scopes=[MEDICAL_SCOPE],
        ends_on=timezone.localdate() + dt.timedelta(days=services.MAX_DAYS - 1),
    )
    services.invitation_accept(proxy=proxy, code=code)
    grant.refresh_from_db()
    # The principal's signature: the step-up's proof as stepup_confirm returns it after the card app's
    # answer (its signature check is what login_verification measures), made directly, as in the tests.
    proof = StepUpProof(
        request_id=str(uuid.uuid4()),
        act=services.APPOINT_ACT,
        act_digest=lookup_hash(json.dumps(services.appoint_payload(grant)), purpose="bench-proxy-act"),
        signed_at=timezone.now(),
        signer_serial_hash=lookup_hash(f"bench-card-{principal.pk}", purpose="bench-proxy-card"),
    )
    return services.grant_confirm(principal=principal, grant=grant, proof=proof)


def alerts_set(*, principal: Resident, alerted: Resident) -> None:
    """(b)'s principal turned alerts on proxy reads off (the history page's setting); (c)'s has the
    default, no preference stored, which alerts."""
    AlertPreference.objects.update_or_create(resident=principal, defaults={"on_proxy_reads": False})
    AlertPreference.objects.filter(resident=alerted).delete()


def acting_session(proxy: Resident, grant: ProxyGrant) -> str:
    """The proxy's own login, then the acting key as POST /proxies/<grant>/act/ sets it."""
    key = logged_in_session(proxy.user)
    store = import_module(settings.SESSION_ENGINE).SessionStore(session_key=key)
    store[SESSION_ACTING] = str(grant.public_id)
    store.save()
    return key


def page_shown(port: int, session: str, page: str) -> tuple[str, str]:
    answer = httpx.get(
        f"http://127.0.0.1:{port}{page}",
        cookies={settings.SESSION_COOKIE_NAME: session},
        follow_redirects=False,
    )
    if answer.status_code != 200:
        sys.exit(f"{BENCH}: {page} answered {answer.status_code}")
    data = DATA.search(answer.text)
    if data is None:
        sys.exit(f"{BENCH}: {page} answered without the data")
    return answer.text, data.group(0)


def require_pages(port: int, sessions: dict[str, str], page: str, principal: Resident, data: dict) -> None:
    """(a) the principal's data without a banner; (b) and (c) the very same data under the acting banner."""
    own_page, own_data = page_shown(port, sessions["own"], page)
    if escape(distinctive_text(data)) not in own_data:
        sys.exit(f"{BENCH}: (a) does not show the principal's data")
    if 'id="acting-banner"' in own_page:
        sys.exit(f"{BENCH}: (a), the principal's own view, shows the acting banner")
    for name in ("proxy", "alerting"):
        acting_page, acting_data = page_shown(port, sessions[name], page)
        banner = BANNER.search(acting_page)
        if banner is None or escape(principal.name) not in banner.group(0):
            sys.exit(f"{BENCH}: {name} shows no acting banner naming the principal")
        if acting_data != own_data:
            sys.exit(f"{BENCH}: {name} does not show exactly the principal's data")


def released(principals: dict[str, Resident], proxy: Resident, category: str) -> Counter:
    """Records of this page by view, and releases alerted: what the views must have written."""
    counts: Counter = Counter()
    for name, owner, actor_type, actor in (
        ("own", principals["own"], ActorType.RESIDENT, principals["own"]),
        ("proxy", principals["proxy"], ActorType.PROXY, proxy),
        ("alerting", principals["alerting"], ActorType.PROXY, proxy),
    ):
        records = ReleaseRecord.objects.filter(owner=owner, category=category, actor_type=actor_type)
        counts[name] = records.filter(actor_ref=str(actor.public_id)).count()
        counts[f"{name}_alerts"] = ReleaseAlert.objects.filter(resident=owner, category=category).count()
    return counts


def default_workers() -> int:
    """Workers consuming the bench broker's default queue now (another session's benchmark, say): they run
    (c)'s pushes on this machine while it is timed, which (c)'s figures then include."""
    replies = celery_app.control.inspect(timeout=1.0).active_queues() or {}
    return sum(any(queue["name"] == QUEUE_DEFAULT for queue in queues) for queues in replies.values())


def query_table(sql: str) -> str:
    """What a query reads, writes or calls, to tell the views' queries apart without their parameters."""
    found = FROM.search(sql)
    return found.group(1) if found else sql.split()[0]


def in_process(
    sessions: dict[str, str], page: str, runs: int
) -> tuple[dict[str, list[float]], dict[str, Counter]]:
    """Django's own CPU per view in this process (database waits excluded), the views taking turns, and
    each view's queries: less noisy than the round trip, and they show where the difference lies."""
    client = Client()
    cpu_ms: dict[str, list[float]] = {name: [] for name in sessions}
    queries: dict[str, Counter] = {}
    for name, session in sessions.items():  # warm-up, then the queries of one view
        client.cookies[settings.SESSION_COOKIE_NAME] = session
        client.get(page)
        with CaptureQueriesContext(connection) as captured:
            if client.get(page).status_code != 200:
                sys.exit(f"{BENCH}: {page} did not answer 200 in process ({name})")
        queries[name] = Counter(query_table(query["sql"]) for query in captured.captured_queries)
    for _ in range(runs):
        for name, session in sessions.items():
            client.cookies[settings.SESSION_COOKIE_NAME] = session
            started = time.thread_time_ns()
            if client.get(page).status_code != 200:
                sys.exit(f"{BENCH}: {page} did not answer 200 in process ({name})")
            cpu_ms[name].append((time.thread_time_ns() - started) / 1e6)
    return cpu_ms, queries


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--category", default=CATEGORY, choices=sorted(MEDICAL_CATEGORIES))
    parser.add_argument("--residents", type=int, default=10_000, help="seed up to this many residents")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers (as in the Procfile)")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--requests", type=int, default=100, help="requests per view per round")
    args = parser.parse_args()
    page = f"/myinfo/{args.category}/"

    database_prepare(args.residents, bench=BENCH)
    residents = bench_residents()
    principal, alerted, proxy = residents[PRINCIPAL], residents[ALERTED], residents[PROXY]
    data = category_payload(args.category)
    payload_bytes = entries_cached([principal, alerted], args.category, data)
    grants = {"proxy": grant_active(principal, proxy), "alerting": grant_active(alerted, proxy)}
    if any(scope_for_category(args.category) not in grant.scopes for grant in grants.values()):
        sys.exit(f"{BENCH}: a grant does not cover {args.category}")
    alerts_set(principal=principal, alerted=alerted)
    sessions = {
        "own": logged_in_session(principal.user),
        "proxy": acting_session(proxy, grants["proxy"]),
        "alerting": acting_session(proxy, grants["alerting"]),
    }
    principals = {"own": principal, "proxy": principal, "alerting": alerted}
    before = released(principals, proxy, args.category)
    workers = default_workers()
    connections.close_all()  # this process only sends requests until the in-process part

    requests = {name: raw_get(page, session) for name, session in sessions.items()}
    requests["bare"] = raw_get(BARE)
    with gunicorn_serving(workers=args.workers, threads=1, bench=BENCH) as port:
        require_pages(port, sessions, page, principal, data)
        sequential_rounds(port, requests, rounds=1, per_round=WARMUP, bench=BENCH)
        latencies = sequential_rounds(port, requests, args.rounds, args.requests, bench=BENCH)

    # Every view, checked and warm-up included, recorded one release for its principal, by the right
    # actor; only (c)'s alerted.
    workers = max(workers, default_workers())
    views = 1 + WARMUP + args.rounds * args.requests
    written = released(principals, proxy, args.category)
    written.subtract(before)
    expected = Counter(own=views, proxy=views, alerting=views, alerting_alerts=views)
    if +written != expected:
        sys.exit(f"{BENCH}: {views} views of each wrote {dict(+written)}, not {dict(expected)}")

    own, bare = latencies["own"], latencies["bare"]
    ratios: dict[str, dict[str, list[float]]] = {}
    for name in ("proxy", "alerting"):
        acting = latencies[name]
        ratios[name] = {
            "p50": [median(b) / median(a) for a, b in zip(own, acting, strict=True)],
            "p95": [p95(b) / p95(a) for a, b in zip(own, acting, strict=True)],
            "added": [median(b) - median(a) for a, b in zip(own, acting, strict=True)],
            "no_floor": [
                (median(b) - median(f)) / (median(a) - median(f))
                for a, b, f in zip(own, acting, bare, strict=True)
            ],
        }
    ratio = median(ratios["proxy"]["p50"])
    passed = ratio <= LIMIT

    setup = (
        f"(median of {args.rounds} rounds × {args.requests} requests per view, taking turns, one at a "
        f"time; gunicorn workers={args.workers})"
    )
    described = {
        "own": f"(a) the principal's own {page} {setup}",
        "proxy": "(b) the proxy acting for them (their alerts on proxy reads off)",
        "alerting": "(c) a proxy read alerting its principal, as by default (informative)",
    }
    for name, note in described.items():
        latency_report(BENCH, name, latencies[name], note)
    report(BENCH, "bare_p50", median([median(v) for v in bare]), "ms", f"{BARE}, the round trip's floor")
    verdict_note = f"limit ≤ {LIMIT:.2f}: {verdict(passed)}"
    report(BENCH, "ratio_p50", ratio, "×", f"(b)/(a), median of the rounds' ratios of p50s; {verdict_note}")
    report(BENCH, "ratio_p50_rounds", max(ratios["proxy"]["p50"]), "×", "(b)/(a), the largest round's")
    report(BENCH, "ratio_p95", median(ratios["proxy"]["p95"]), "×", "(b)/(a) of p95s, median of rounds")
    report(BENCH, "ratio_p50_no_floor", median(ratios["proxy"]["no_floor"]), "×", "each less the bare view")
    report(BENCH, "added_p50", median(ratios["proxy"]["added"]), "ms", "(b) − (a), median of rounds")
    report(BENCH, "alerting_ratio_p50", median(ratios["alerting"]["p50"]), "×", "(c)/(a) (informative)")
    report(BENCH, "alerting_ratio_p95", median(ratios["alerting"]["p95"]), "×", "(c)/(a) of p95s")
    report(BENCH, "alerting_added_p50", median(ratios["alerting"]["added"]), "ms", "(c) − (a)")

    cpu_ms, queries = in_process(sessions, page, args.requests)
    own_cpu = median(cpu_ms["own"])
    for name, view in (("own", "(a)"), ("proxy", "(b)"), ("alerting", "(c)")):
        cpu = median(cpu_ms[name])
        times = f"; ×{cpu / own_cpu:.3f}" if name != "own" else ""
        report(BENCH, f"{name}_cpu_p50", cpu, "ms", f"{view} Django's CPU per view, in process{times}")
    for name, view in (("own", "(a)"), ("proxy", "(b)"), ("alerting", "(c)")):
        more = f"; more than (a): {dict(queries[name] - queries['own'])}" if name != "own" else ""
        report(BENCH, f"{name}_queries", sum(queries[name].values()), "", f"{view} per view{more}")
    report(BENCH, "payload", payload_bytes, "bytes", f"{args.category}'s JSON, encrypted in the cache")
    note = "consuming the bench broker's default queue before or after the timing; none runs here"
    report(BENCH, "default_workers", workers, "", note)
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())
