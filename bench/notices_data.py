"""Notices for the issue-5 benchmarks: an agency client registered with a key made for the run, the
assertions it signs, a resident of its own, and synthetic inboxes written in bulk.

Import after bench_environment(). Writes only to the bench database.
"""

import datetime as dt
import io
import json
import os
import random
import sys
import time
import uuid
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management import call_command
from django.db import IntegrityError, connection
from django.utils import timezone
from joserfc import jwt
from joserfc.jwk import ECKey

from notices.categories import NOTICE_CATEGORY_CODES
from notices.conf import agency_api_audiences
from notices.models import Action, AgencyClient, Audience, Notice, NoticeState
from portal.core.crypto import lookup_hash
from portal.identity.models import Resident, User
from portal.identity.mynumber import my_number_check_digit

AGENCY_ID = "municipal-child"
CLIENT_ID = "bench-notices"
KID = "bench-1"
# Broadcasts written by notices_inbox go to this town only, so no other benchmark's inbox sees them.
TOWN = "ベンチ県通知市"
TITLES = [
    "児童扶養手当の現況届のご案内",
    "住民税の納税通知書の送付について",
    "予防接種のお知らせ",
    "年金額改定通知書",
    "特定健診の受診券を送付しました",
    "給付金の振込予定日のお知らせ",
    "介護保険料の決定通知",
    "防災訓練のご案内",
]


def agency_client_registered(
    directory: Path,
    *,
    client_id: str = CLIENT_ID,
    agency_id: str = AGENCY_ID,
    name: str = "ベンチマーク 一斉配信",
) -> tuple[AgencyClient, ECKey]:
    """The bench's agency client, its JWKS replaced by a key made for this run (staff's registration)."""
    key = ECKey.generate_key("P-256", private=True)
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "agency.pem").write_bytes(key.as_pem(private=True))
    public = {**key.as_dict(private=False), "kid": KID, "alg": "ES256", "use": "sig"}
    client, _ = AgencyClient.objects.update_or_create(
        client_id=client_id,
        defaults={
            "agency_id": agency_id,
            "name": name,
            "jwks": {"keys": [public]},
            "webhook_url": "",
            "active": True,
        },
    )
    return client, key


def assertion(key: ECKey, *, client_id: str = CLIENT_ID) -> str:
    """A fresh client assertion, as an agency signs one per request."""
    now = int(time.time())
    claims = {
        "iss": client_id,
        "sub": client_id,
        "aud": agency_api_audiences()[0],
        "iat": now,
        "exp": now + 120,
        "jti": uuid.uuid4().hex,
    }
    return jwt.encode({"alg": "ES256", "kid": KID}, claims, key)


def notice_request(recipient: dict[str, Any], title: str) -> bytes:
    body = {
        "recipient": recipient,
        "category": "child",
        "title": {"ja": title, "en": "Child-rearing allowance: yearly status report"},
        "body": {
            "ja": "今年の**現況届**を提出してください。\n\n- 世帯の状況\n- 所得の状況",
            "en": "Please send this year's **status report**.",
        },
        "deadline": (dt.datetime.now(dt.UTC) + dt.timedelta(days=30)).isoformat(),
    }
    return json.dumps(body, ensure_ascii=False).encode()


def residents_top_up(target: int, *, bench: str, chunk: int = 50_000) -> int:
    """At least `target` residents (seed_demo, in chunks); returns how many there are.

    seed_demo draws random 11-digit My Numbers, which collide now and then beyond a few hundred thousand
    residents (the unique hash refuses the batch of 2,000): such a chunk is drawn again.
    """
    have = Resident.objects.count()
    if have < target:
        print(f"{bench}: seeding {target - have} residents…", file=sys.stderr, flush=True)
    failures = 0
    while (have := Resident.objects.count()) < target:
        try:
            call_command("seed_demo", residents=min(chunk, target - have), stdout=io.StringIO())
        except IntegrityError:
            failures += 1
            if failures > 20:
                raise
    return have


def bench_notice_resident(username: str, rng: random.Random) -> Resident:
    """A resident of the bench's own town (reused by later runs)."""
    user, _ = User.objects.get_or_create(username=username, defaults={"password": "!"})
    resident = Resident.objects.filter(user=user).first()
    if resident is None:
        # A seeded draw repeats across runs with another --notices (another user): draw until unused.
        while True:
            first_eleven = f"{rng.randrange(10**10, 10**11):011d}"
            number = first_eleven + str(my_number_check_digit(first_eleven))
            if not Resident.objects.filter(my_number_hash=lookup_hash(number, purpose="my-number")).exists():
                break
        resident = Resident.objects.create(
            user=user,
            name="通知 太郎",
            name_kana="ツウチ タロウ",
            birth_date=dt.date(1985, 6, 15),
            sex="1",
            address=f"{TOWN}一丁目1番地",
            my_number=number,
            my_number_hash=lookup_hash(number, purpose="my-number"),
        )
    return resident


def visible_count(resident: Resident) -> int:
    from notices.selectors import notice_visible

    return notice_visible(resident=resident).count()


def inbox_write(resident: Resident, client: AgencyClient, count: int, rng: random.Random) -> None:
    """`count` notices the resident sees, over 3 years: about 70 % addressed to them, 30 % broadcasts to
    their town (some by age range); a fifth with an answer to give; 60 % read, 10 % archived."""
    categories = sorted(NOTICE_CATEGORY_CODES)
    now = timezone.now()
    notices = []
    for index in range(count):
        broadcast = rng.random() < 0.3
        action = rng.choices([Action.NONE, Action.CONFIRM], weights=[4, 1])[0]
        sent_at = now - dt.timedelta(seconds=rng.randrange(3 * 365 * 86400))
        title = rng.choice(TITLES)
        notices.append(
            Notice(
                client=client,
                agency_id=AGENCY_ID,
                sender_name_ja="ベンチ市 子育て支援課",
                sender_name_en="Bench City",
                idempotency_key=f"bench-inbox-{resident.pk}-{index}",
                request_digest="0" * 64,
                category=rng.choice(categories),
                title_ja=f"{title}（{index}）",
                body_ja=f"{title}。詳しくは本文をご覧ください。\n\n- 期限までに手続をしてください。",
                action=action,
                deadline=sent_at + dt.timedelta(days=30) if action != Action.NONE else None,
                audience=Audience.BROADCAST if broadcast else Audience.RESIDENT,
                recipient=None if broadcast else resident,
                segment_municipality=TOWN if broadcast else "",
                segment_born_to=dt.date(2000, 1, 1) if broadcast and rng.random() < 0.3 else None,
                sent_at=sent_at,
            )
        )
    created = Notice.objects.bulk_create(notices, batch_size=2000)
    states = []
    for notice in created:
        roll = rng.random()
        if roll < 0.6:
            read_at = notice.sent_at + dt.timedelta(hours=rng.randrange(1, 200))
            archived_at = read_at + dt.timedelta(days=1) if roll < 0.1 else None
            states.append(
                NoticeState(notice=notice, resident=resident, read_at=read_at, archived_at=archived_at)
            )
    NoticeState.objects.bulk_create(states, batch_size=2000)
    with connection.cursor() as cursor:  # as autovacuum would leave the statistics
        cursor.execute("ANALYZE notices_notice")
        cursor.execute("ANALYZE notices_noticestate")


def bench_var(name: str) -> Path:
    return Path(settings.VAR_DIR) / name


def default_queue_clear() -> None:
    """Nothing left on the default queue, queued or taken and unacknowledged (acks_late), by an earlier
    run: a broadcast's fan-out stopped midway would otherwise start again in the next worker. Only the
    bench's own Redis database is touched."""
    from portal.celery import QUEUE_DEFAULT
    from portal.celery import app as celery_app

    with celery_app.connection_for_write() as conn:
        channel = conn.default_channel
        channel.queue_purge(QUEUE_DEFAULT)
        client = getattr(channel, "client", None)
        if client is not None:  # the Redis transport keeps taken messages here until acknowledged
            client.delete("unacked", "unacked_index", "unacked_mutex")


@contextmanager
def default_worker(
    *, bench: str, concurrency: int = 1, environment: dict[str, str] | None = None, clear: bool = True
):
    """A worker on the default queue as the Procfile starts it (prefork), with `concurrency` processes."""
    import subprocess

    from bench.agencies import wait_until
    from bench.environment import REPO
    from portal.celery import QUEUE_DEFAULT
    from portal.celery import app as celery_app

    if clear:
        default_queue_clear()
    hostname = f"bench-default-{os.getpid()}"
    log = Path(settings.VAR_DIR) / f"bench-default-worker-{bench}.log"
    command = [
        *(sys.executable, "-m", "celery", "-A", "portal", "worker"),
        *("--hostname", f"{hostname}@%h", "--queues", QUEUE_DEFAULT),
        *("--pool", "prefork", "--concurrency", str(concurrency), "--loglevel", "INFO"),
    ]
    with log.open("w") as output:
        process = subprocess.Popen(
            command,
            cwd=REPO,
            env={**os.environ, **(environment or {})},
            stdout=output,
            stderr=subprocess.STDOUT,
        )

    def answers() -> bool:
        if process.poll() is not None:
            sys.exit(f"{bench}: the default worker exited ({process.returncode}); see {log}")
        replies = celery_app.control.ping(timeout=0.5)
        return any(name.startswith(f"{hostname}@") for reply in replies for name in reply)

    try:
        wait_until(answers, timeout=60, what="the default worker to answer a ping", bench=bench)
        yield process, log
    finally:
        worker_stop_cold(process)
        default_queue_clear()


def worker_stop_cold(process) -> None:
    """SIGQUIT: Celery's cold shutdown, which ends a running task (a fan-out may run for many minutes)."""
    import signal
    import subprocess

    pool = children(process.pid) if process.poll() is None else []
    process.send_signal(signal.SIGQUIT)
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
    for pid in pool:  # a pool process the main one did not take down
        with suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


def children(pid: int) -> list[int]:
    return [
        int(c)
        for task in Path(f"/proc/{pid}/task").iterdir()
        for c in (task / "children").read_text().split()
    ]


def memory_kib(pid: int) -> tuple[int, int]:
    """VmRSS and VmHWM (peak) of one process, in KiB."""
    status = Path(f"/proc/{pid}/status").read_text()
    fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
    return int(fields["VmRSS"].split()[0]), int(fields["VmHWM"].split()[0])
