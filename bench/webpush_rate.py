"""Benchmark: Web Push messages per second sent by one worker process (notify.send_deliveries: VAPID,
RFC 8291 encryption, the POST, the delivery's state) to a local push service in its own process that
decrypts every payload with http_ece, checks it and verifies its VAPID header.

Target (issue 5): at least 100 messages per second per worker process. The deliveries are queued first
(notify_resident, one per registered device, as one batch per resident), then one worker with one
prefork pool process is started; the rate runs from the first message the service received to the last,
so the worker's start is not counted.
"""
# ruff: noqa: E402  (Django must be set up before the portal's modules are imported)

import argparse
import base64
import contextlib
import json
import os
import subprocess
import sys
import time
import uuid

import httpx
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from bench.environment import REPO, bench_environment

bench_environment()


from bench.agencies import stop, wait_until
from bench.database import database_prepare
from bench.figures import report, verdict
from bench.notices_data import bench_var, children, default_queue_clear, default_worker, memory_kib
from bench.push_service import tls_make
from bench.server import free_port
from portal.identity.models import Resident
from portal.notify import services
from portal.notify.models import Delivery, DeliveryStatus, PushSubscription
from portal.notify.vapid import vapid_public_key

BENCH = "webpush_rate"
LIMIT = 100.0
DEVICES = 10  # services.MAX_DEVICES per resident, by default


def b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def subscribers_register(residents: list[Resident], origin: str, directory, *, devices: int) -> int:
    """Each resident's devices registered as a browser does; the keys written for the push service."""
    PushSubscription.objects.filter(resident__in=residents).delete()  # an earlier run's service is gone
    expected = json.loads(services.push_payload(kind="notice", url="/notices/", language="ja"))
    application_server_key = vapid_public_key()  # what the browser subscribed with
    keys = {}
    for resident in residents:
        for _ in range(devices):
            name = uuid.uuid4().hex
            private_key, auth = ec.generate_private_key(ec.SECP256R1()), os.urandom(16)
            public = private_key.public_key().public_bytes(
                serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
            )
            raw = {
                "endpoint": f"{origin}/push/{name}",
                "keys": {"p256dh": b64url(public), "auth": b64url(auth)},
            }
            services.push_subscription_save(
                resident=resident,
                subscription=services.subscription_parse(json.dumps(raw).encode()),
                user_agent="Mozilla/5.0 (Linux; Android 14) Chrome/130.0",
                language="ja",
            )
            keys[name] = {
                "private_key": private_key.private_bytes(
                    serialization.Encoding.PEM,
                    serialization.PrivateFormat.PKCS8,
                    serialization.NoEncryption(),
                ).decode(),
                "auth": b64url(auth),
                "payload": expected,
                "application_server_key": application_server_key,
            }
    (directory / "subscribers.json").write_text(json.dumps(keys))
    return len(keys)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--deliveries", type=int, default=2000, help="messages")
    parser.add_argument(
        "--devices",
        type=int,
        default=DEVICES,
        help="devices per resident (one batch of this many per resident)",
    )
    parser.add_argument(
        "--fanout",
        action="store_true",
        help="queue as a broadcast does (deliveries_queued_together): batches across residents",
    )
    parser.add_argument("--residents", type=int, default=10_000, help="seed up to this many residents")
    args = parser.parse_args()

    database_prepare(args.residents, bench=BENCH)
    directory = bench_var("push")
    ca_file = tls_make(directory)
    port = free_port()
    origin = f"https://127.0.0.1:{port}"
    residents = list(Resident.objects.order_by("pk")[: -(-args.deliveries // args.devices)])
    count = subscribers_register(residents, origin, directory, devices=args.devices)

    log = bench_var("bench-push-service.log")
    with log.open("w") as output:
        command = [sys.executable, "-m", "bench.push_service", str(directory), str(port)]
        service = subprocess.Popen(command, cwd=REPO, stdout=output, stderr=subprocess.STDOUT)

    def stats() -> dict:
        return httpx.get(f"{origin}/_stats", verify=str(ca_file), timeout=5).json()

    def service_up() -> bool:
        if service.poll() is not None:
            sys.exit(f"{BENCH}: the push service exited ({service.returncode}); see {log}")
        try:
            return stats() is not None
        except httpx.HTTPError:
            return False

    try:
        wait_until(service_up, timeout=30, what="the push service", bench=BENCH, interval=0.1)
        default_queue_clear()
        key = f"bench-push:{uuid.uuid4()}"
        with services.deliveries_queued_together() if args.fanout else contextlib.nullcontext():
            for resident in residents:
                services.notify_resident(
                    resident=resident, kind="notice", category="child", url="/notices/", dedupe_key=key
                )
        queued = Delivery.objects.filter(dedupe_key=key, status=DeliveryStatus.QUEUED).count()
        if queued != count:
            sys.exit(f"{BENCH}: {queued} deliveries queued for {count} devices")
        environment = {"WEBPUSH_CA_BUNDLE": str(ca_file)}
        with default_worker(bench=BENCH, clear=False, environment=environment) as (worker, worker_log):
            received = wait_until(
                lambda: (s := stats())["received"] >= count and s,
                timeout=max(120, count / 5),
                what=f"{count} messages at the push service",
                bench=BENCH,
                interval=0.2,
            )
            pools = children(worker.pid)
            rss = [memory_kib(pid) for pid in pools]
            time.sleep(0.5)  # the last delivery's state is written after the service answered
        sent = Delivery.objects.filter(dedupe_key=key, status=DeliveryStatus.SENT).count()
    finally:
        stop(service)

    seconds = received["last"] - received["first"]
    rate = (received["received"] - 1) / seconds if seconds > 0 else 0.0
    checked = received["decrypted_ok"] == count and received["bad"] == 0 and sent == count
    passed = rate >= LIMIT and checked
    report(
        BENCH,
        "messages_per_s",
        rate,
        "/s",
        f"one worker, {len(pools)} pool process, {args.devices} devices a resident"
        f"{', fan-out batches' if args.fanout else ''}; limit ≥ {LIMIT:g}: {verdict(passed)}",
    )
    report(BENCH, "messages", received["received"], "", f"received in {seconds:.2f} s, first to last")
    report(
        BENCH, "decrypted_ok", received["decrypted_ok"], "", "decrypted by http_ece, checked, VAPID verified"
    )
    report(BENCH, "rejected", received["bad"], "", f"of which {received['bad_vapid']} for their VAPID header")
    report(BENCH, "deliveries_sent", sent, "", f"of {count} marked sent in the database")
    if rss:
        report(BENCH, "worker_rss", max(r for r, _ in rss) / 1024, "MiB", "the pool process")
    if not checked:
        print(f"{BENCH}: not every message arrived intact; see {log} and {worker_log}", file=sys.stderr)
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())
