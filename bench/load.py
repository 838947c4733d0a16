"""The load generator: requests built once as raw bytes, sent over fresh connections, in interleaved rounds.

The client spends as little CPU per request as it can, since it shares the machine with the server.
"""

import argparse
import asyncio
import math
import socket
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator

from django.conf import settings

# What one client loop sends: the same request again and again, or the next of a shared supply of prepared
# requests (each sent once, e.g. with a fresh client assertion).
Source = bytes | Iterator[bytes]
# A phase's client loops, or a function that prepares them just before the phase, untimed.
Target = list[Source] | Callable[[], list[Source]]


def raw_get(path: str, session: str | None = None, *, headers: dict[str, str] | None = None) -> bytes:
    """A whole HTTP/1.1 request, built once: the client must spend as little CPU as it can per request."""
    lines = [f"GET {path} HTTP/1.1", "Host: 127.0.0.1", "Connection: close"]
    if session:
        lines.append(f"Cookie: {settings.SESSION_COOKIE_NAME}={session}")
    lines += [f"{name}: {value}" for name, value in (headers or {}).items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def raw_post(
    path: str,
    body: bytes,
    *,
    content_type: str,
    cookies: dict[str, str] | None = None,
    headers: dict[str, str] | None = None,
) -> bytes:
    """A whole HTTP/1.1 POST, built once, as raw_get."""
    lines = [f"POST {path} HTTP/1.1", "Host: 127.0.0.1", "Connection: close"]
    if cookies:
        lines.append("Cookie: " + "; ".join(f"{name}={value}" for name, value in cookies.items()))
    lines += [f"{name}: {value}" for name, value in (headers or {}).items()]
    lines += [f"Content-Type: {content_type}", f"Content-Length: {len(body)}"]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


def fetch_blocking(port: int, request: bytes) -> tuple[int, bytes]:
    """One request on a fresh connection, waited for whole: status and the raw response (headers + body)."""
    with socket.create_connection(("127.0.0.1", port)) as conn:
        conn.sendall(request)
        chunks = []
        while chunk := conn.recv(65536):  # Connection: close, so the response ends when the server closes
            chunks.append(chunk)
    response = b"".join(chunks)
    return int(response.split(b" ", 2)[1]), response


async def fetch_status(port: int, request: bytes) -> int:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(request)
        status_line = await reader.readline()
        await reader.read()  # Connection: close, so the response ends when the server closes
    finally:
        writer.close()
    return int(status_line.split()[1])


async def connection_loop(port: int, source: Source, deadline: float, statuses: Counter) -> None:
    while time.monotonic() < deadline:
        request = source if isinstance(source, bytes) else next(source, b"")
        if not request:
            # Stopping early would shorten the phase's work but not its time: the rate would be wrong.
            raise RuntimeError("the prepared requests ran out before the phase ended; prepare more")
        statuses[await fetch_status(port, request)] += 1


async def phase(port: int, requests: list[Source], seconds: float, *, bench: str) -> float:
    """Requests per second answered 200, one client loop per prepared request; any other answer aborts."""
    statuses: Counter = Counter()
    started = time.monotonic()
    await asyncio.gather(*(connection_loop(port, r, started + seconds, statuses) for r in requests))
    elapsed = time.monotonic() - started
    if set(statuses) != {200}:
        sys.exit(f"{bench}: unexpected answers {dict(statuses)}")
    return statuses[200] / elapsed


class Supply:
    """One phase's prepared requests, shared by its client loops; each is drawn and sent once."""

    def __init__(self, requests: list[bytes]) -> None:
        self._requests = iter(requests)
        self.used = 0
        self.first = self.last = 0.0

    def __iter__(self) -> "Supply":
        return self

    def __next__(self) -> bytes:
        request = next(self._requests)
        now = time.monotonic()
        self.first = self.first or now
        self.last = now
        self.used += 1
        return request


class PreparedPhases:
    """A target whose requests `prepare(count)` makes just before each phase, untimed, because each may be
    sent once only (a fresh jti, a one-use code). A phase gets three times what the rate seen so far would
    use (at least `initial`): running out stops the benchmark rather than shortening the phase. `sent`
    counts the requests drawn; every one was answered 200, since a phase stops on any other answer."""

    def __init__(self, prepare: Callable[[int], list[bytes]], *, connections: int, initial: int) -> None:
        self.prepare = prepare
        self.connections = connections
        self.size = initial
        self.seconds = 1.0  # the coming phases' length, to size their supply
        self.sent = 0
        self._supply: Supply | None = None

    def settle(self) -> None:
        """Counts the last phase's requests and sizes the next supply by the rate they were drawn at."""
        if self._supply is None:
            return
        supply, self._supply = self._supply, None
        self.sent += supply.used
        if supply.last > supply.first:
            rate = supply.used / (supply.last - supply.first)
            self.size = max(self.size, math.ceil(3 * rate * self.seconds))

    def sized_for(self, seconds: float) -> None:
        """After the warm-up: the coming phases last `seconds`, and their supply is sized for that."""
        self.seconds = seconds
        self.settle()

    def __call__(self) -> list[Source]:
        self.settle()
        self._supply = Supply(self.prepare(self.size))
        return [self._supply] * self.connections


def load_options(parser: argparse.ArgumentParser) -> None:
    """The options of every benchmark that loads gunicorn in interleaved rounds, with the same defaults."""
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers (as in the Procfile)")
    parser.add_argument("--threads", type=int, default=1, help="gunicorn threads per worker")
    parser.add_argument("--connections", type=int, default=8, help="concurrent client connections")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--seconds", type=float, default=5.0, help="length of each measured phase")


def interleaved_rounds(
    port: int, targets: dict[str, Target], rounds: int, seconds: float, *, bench: str
) -> dict[str, list[float]]:
    names = list(targets)
    rps: dict[str, list[float]] = {name: [] for name in names}
    for index in range(rounds):
        # Rotate which goes first, so a drift in the machine's load favours none of them.
        shift = index % len(names)
        for name in names[shift:] + names[:shift]:
            target = targets[name]
            requests = target() if callable(target) else target
            rps[name].append(asyncio.run(phase(port, requests, seconds, bench=bench)))
    return rps


def per_round_ratios(rps: dict[str, list[float]], name: str, baseline: str) -> list[float]:
    """Ratios of phases run seconds apart: the machine's slow and fast moments cancel out."""
    return [value / base for value, base in zip(rps[name], rps[baseline], strict=True)]


def sequential_rounds(
    port: int, requests: dict[str, bytes], rounds: int, per_round: int, *, bench: str
) -> dict[str, list[list[float]]]:
    """Milliseconds per request, one request at a time, the pages taking turns so noise hits all alike."""
    names = list(requests)
    latencies: dict[str, list[list[float]]] = {name: [] for name in names}
    for index in range(rounds):
        shift = index % len(names)
        order = names[shift:] + names[:shift]
        for name in names:
            latencies[name].append([])
        for _ in range(per_round):
            for name in order:
                started = time.perf_counter_ns()
                status, _ = fetch_blocking(port, requests[name])
                elapsed_ms = (time.perf_counter_ns() - started) / 1e6
                if status != 200:
                    sys.exit(f"{bench}: {name} answered {status}")
                latencies[name][-1].append(elapsed_ms)
    return latencies
