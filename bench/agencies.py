"""The agency simulator and a fetch worker for the "my information" benchmarks, each in its own process,
and the demo residents the simulator knows, created in the bench database with their real My Numbers.

The simulator gets its own data folder, port, control token and client key under var/bench/agency, so a
bench run never touches the demo's simulator or keys. The worker runs as the Procfile's fetch worker does,
on the bench's broker (Redis database 13). Logs go to var/bench/, never to stdout, which carries only figures.
"""

import json
import os
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import httpx
from django.conf import settings
from django.db import connection
from joserfc.jwk import ECKey

from bench.environment import REPO
from bench.server import free_port
from portal.agencies.codes import agency_registry
from portal.celery import QUEUE_FETCH
from portal.celery import app as celery_app
from portal.core.crypto import lookup_hash
from portal.identity.models import Resident, User
from portal.myinfo.models import CategoryEntry, EntryState

PEOPLE = {p["id"]: p for p in json.loads((REPO / "demo" / "people.json").read_text())["people"]}


def wait_until(predicate: Callable[[], object], *, timeout: float, what: str, bench: str, interval=0.05):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if value := predicate():
            return value
        time.sleep(interval)
    sys.exit(f"{bench}: timed out after {timeout:g} s waiting for {what}")


def stop(process: subprocess.Popen) -> None:
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


@dataclass(frozen=True)
class AgencySimulator:
    url: str
    control_token: str
    process: subprocess.Popen

    def set_latency(self, latency_ms: int) -> None:
        """The same answer delay at every agency (the control API, one agency at a time)."""
        for agency_id in agency_registry():
            httpx.put(
                f"{self.url}/_control/agencies/{agency_id}",
                json={"latency_ms": latency_ms},
                headers={"X-Control-Token": self.control_token},
                timeout=5,
            ).raise_for_status()


def _client_key(directory: Path) -> tuple[Path, Path]:
    """A client key made for this run, and the JWKS the simulator trusts it by."""
    key = ECKey.generate_key("P-256", private=True)
    key_file, jwks_file = directory / "client.pem", directory / "client.jwks.json"
    key_file.write_bytes(key.as_pem(private=True))
    public = {**key.as_dict(private=False), "kid": key.thumbprint(), "use": "sig", "alg": "ES256"}
    jwks_file.write_text(json.dumps({"keys": [public]}))
    return key_file, jwks_file


@contextmanager
def agency_simulator(*, bench: str, latency_ms: int = 0) -> Iterator[AgencySimulator]:
    """The simulator in its own process (one uvicorn worker, as in the Procfile), for the block.

    Points this process's agency client at it; :func:`worker_environment` does the same for a worker.
    """
    directory = Path(settings.VAR_DIR) / "agency"
    directory.mkdir(parents=True, exist_ok=True)
    key_file, jwks_file = _client_key(directory)
    port = free_port()
    url, token = f"http://127.0.0.1:{port}", secrets.token_urlsafe(16)
    environment = {
        **os.environ,
        "AGENCY_SIM_DATA_DIR": str(directory / "data"),
        "AGENCY_SIM_CLIENT_JWKS": str(jwks_file),
        "AGENCY_SIM_PUBLIC_URL": url,
        "AGENCY_SIM_CONTROL_TOKEN": token,
        "AGENCY_SIM_LATENCY_MS": str(latency_ms),
    }
    log = Path(settings.VAR_DIR) / "bench-agency.log"
    with log.open("w") as output:
        command = [sys.executable, "-m", "simulators.agency", "serve", "--port", str(port)]
        process = subprocess.Popen(
            command, cwd=REPO, env=environment, stdout=output, stderr=subprocess.STDOUT
        )
    os.environ.update(AGENCY_BASE_URL=url, AGENCY_CLIENT_KEY=str(key_file), AGENCY_CLIENT_JWKS=str(jwks_file))
    settings.AGENCY_BASE_URL = url
    settings.AGENCY_CLIENT_KEY_FILE = str(key_file)
    settings.AGENCY_CLIENT_JWKS_FILE = str(jwks_file)

    def healthy() -> bool:
        if process.poll() is not None:
            sys.exit(f"{bench}: the agency simulator exited ({process.returncode}); see {log}")
        try:
            return httpx.get(f"{url}/healthz", timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    try:
        wait_until(healthy, timeout=120, what="the agency simulator", bench=bench, interval=0.25)
        yield AgencySimulator(url, token, process)
    finally:
        stop(process)


def fetch_queue_purge() -> int:
    """Fetches other benchmarks left queued (history_page's refreshes, for residents no simulator knows)
    would be timed along with ours."""
    with celery_app.connection_for_write() as conn:
        return conn.default_channel.queue_purge(QUEUE_FETCH) or 0


@contextmanager
def fetch_worker(*, concurrency: int, bench: str) -> Iterator[subprocess.Popen]:
    """A worker on the fetch queue as the Procfile starts it (its thread pool, portal.core.pools), pointed
    at the simulator."""
    fetch_queue_purge()
    hostname = f"bench-fetch-{os.getpid()}"
    log = Path(settings.VAR_DIR) / "bench-fetch-worker.log"
    command = [
        *(sys.executable, "-m", "celery", "-A", "portal", "worker"),
        *("--hostname", f"{hostname}@%h", "--queues", QUEUE_FETCH),
        *("--pool", "custom", "--concurrency", str(concurrency), "--loglevel", "INFO"),
    ]
    env = {**os.environ, "CELERY_CUSTOM_WORKER_POOL": "portal.core.pools:ThreadPool"}
    with log.open("w") as output:
        process = subprocess.Popen(command, cwd=REPO, env=env, stdout=output, stderr=subprocess.STDOUT)

    def answers() -> bool:
        if process.poll() is not None:
            sys.exit(f"{bench}: the fetch worker exited ({process.returncode}); see {log}")
        replies = celery_app.control.ping(timeout=0.5)
        return any(name.startswith(f"{hostname}@") for reply in replies for name in reply)

    try:
        wait_until(answers, timeout=60, what="the fetch worker to answer a ping", bench=bench)
        yield process
    finally:
        stop(process)


def resident_memory_kib(pid: int) -> tuple[int, int]:
    """VmRSS and VmHWM (peak) of a process and all its descendants, in KiB."""
    rss = peak = 0
    for current in _descendants(pid):
        status = Path(f"/proc/{current}/status").read_text()
        fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
        rss += int(fields["VmRSS"].split()[0])
        peak += int(fields["VmHWM"].split()[0])
    return rss, peak


def _descendants(pid: int) -> list[int]:
    found, pending = [], [pid]
    while pending:
        current = pending.pop()
        found.append(current)
        for task in Path(f"/proc/{current}/task").iterdir():
            pending += [int(child) for child in (task / "children").read_text().split()]
    return found


def cpu_seconds(pid: int) -> float:
    """User and system CPU of a process and all its descendants so far (/proc/<pid>/stat), in seconds."""
    return sum(_process_cpu(current) for current in _descendants(pid))


def database_backends_cpu() -> dict[int, float]:
    """CPU seconds so far of each PostgreSQL backend connected to this database (the bench's own: the
    worker's kept connections and this process's), by backend pid; on this host, PostgreSQL only."""
    if connection.vendor != "postgresql":
        return {}
    with connection.cursor() as cursor:
        cursor.execute("SELECT pid FROM pg_stat_activity WHERE datname = current_database()")
        pids = [pid for (pid,) in cursor.fetchall()]
    found = {}
    for pid in pids:
        try:
            found[pid] = _process_cpu(pid)
        except OSError:  # ended meanwhile, or PostgreSQL on another host
            continue
    return found


def _process_cpu(pid: int) -> float:
    # The fields after the command's closing parenthesis; utime and stime are the 12th and 13th.
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def demo_resident(person_id: str) -> Resident:
    """A demo person as a resident of the bench database: the real My Number, so that the agency codes
    the portal derives are the ones the simulator knows. Reused by later runs."""
    person = PEOPLE[person_id]
    number_hash = lookup_hash(person["my_number"], purpose="my-number")
    resident = Resident.objects.filter(my_number_hash=number_hash).first()
    if resident is None:
        user, _ = User.objects.get_or_create(username=f"bench-myinfo-{person_id}", defaults={"password": "!"})
        resident = Resident.objects.create(
            user=user,
            name=person["name"],
            name_kana=person["name_kana"],
            birth_date=date.fromisoformat(person["birth_date"]),
            sex=person["sex"],
            address=person["address"],
            my_number=person["my_number"],
            my_number_hash=number_hash,
        )
    return resident


def fetching(resident_ids: list[int]) -> set[int]:
    """The residents with a category still being fetched."""
    still = CategoryEntry.objects.filter(resident_id__in=resident_ids, state=EntryState.FETCHING)
    return set(still.values_list("resident_id", flat=True).distinct())


def not_done(resident: Resident, categories: list[str]) -> dict[str, str]:
    """Category → state and error of every category that did not end with data."""
    entries = CategoryEntry.objects.filter(resident=resident, category__in=categories)
    ended = {e.category: f"{e.state} {e.last_error_code}".strip() for e in entries}
    return {c: ended.get(c, "missing") for c in categories if ended.get(c) != EntryState.DONE}
