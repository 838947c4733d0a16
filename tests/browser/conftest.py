"""Browser fixtures: Debian's Chromium through Playwright, the portal on pytest-django's live server, and the
card app as a real process that talks to the portal over HTTP (docs/contracts.md).

The card app runs on a private copy of the session's card store, so its PIN counters never leak into the
tests that use ``jpki_env`` directly.
"""

import os
import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from django.conf import settings as django_settings
from django.db import connections
from playwright.sync_api import Browser, BrowserContext, Page, expect, sync_playwright

from simulators.cardapp import CardStore
from tests.browser.phone import PHONE, LayoutFindings
from tests.conftest import REPO, Jpki

CHROMIUM = os.environ.get("PORTAL_TEST_CHROMIUM", "/usr/bin/chromium")
CARD_APP_START_SECONDS = 30
# Long enough for one round of signing.js polling (every 1.5 s) plus the card app's CRL fetch.
EXPECT_TIMEOUT_MS = 10_000


@dataclass
class CardApp:
    url: str
    cards: CardStore
    log: Path


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _copy_card_store(source: Path, target: Path) -> None:
    # The SQLite backup API copies a consistent snapshot, whatever the journal mode of the source.
    with sqlite3.connect(source) as src, sqlite3.connect(target) as dst:
        src.backup(dst)


def _wait_until_ready(process: subprocess.Popen, url: str, log: Path) -> None:
    deadline = time.monotonic() + CARD_APP_START_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"card app exited with {process.returncode}:\n{log.read_text()}")
        try:
            if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.05)  # a readiness poll of another process; browser steps use expect() instead
    raise RuntimeError(f"card app not ready after {CARD_APP_START_SECONDS}s:\n{log.read_text()}")


@pytest.fixture(scope="session")
def card_app(jpki_env: Jpki, live_server, tmp_path_factory) -> Iterator[CardApp]:
    """`python -m simulators.cardapp serve` on a free port, holding the test CA and cards, allowed to call
    back only to the live server."""
    base = tmp_path_factory.mktemp("cardapp")
    ca_dir, data_dir = base / "ca", base / "cards"
    data_dir.mkdir()
    _copy_card_store(jpki_env.directory / "cards.sqlite3", data_dir / "cards.sqlite3")
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    jpki_env.ca.save(ca_dir)  # the card app serves this CA's CRL
    env = {
        **os.environ,
        "CARDAPP_DATA_DIR": str(data_dir),
        "CA_DATA_DIR": str(ca_dir),
        "DEMO_PEOPLE": str(REPO / "demo" / "people.json"),
        "CARDAPP_ALLOWED_ORIGINS": live_server.url,
        "CA_CRL_URL": f"{url}/ca/crl.der",
    }
    log = base / "cardapp.log"
    with log.open("wb") as output:
        process = subprocess.Popen(
            [sys.executable, "-m", "simulators.cardapp", "serve", "--host", "127.0.0.1", "--port", str(port)],
            cwd=REPO,
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    try:
        _wait_until_ready(process, url, log)
        yield CardApp(url=url, cards=CardStore(data_dir / "cards.sqlite3"), log=log)
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def off_playwright_thread[T](function: Callable[[], T]) -> T:
    """Runs ORM calls in a thread of their own: Django refuses them in this one, where Playwright's event
    loop runs (tests/browser/conftest.py). Its database connection is closed after."""

    def run() -> T:
        try:
            return function()
        finally:
            connections.close_all()

    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(run).result()


@pytest.fixture
def portal_with_card_app(settings, jpki_env: Jpki, card_app: CardApp) -> CardApp:
    """The live portal trusts the test CA, fetches the CRL from the card app and links to it."""
    settings.JPKI_TRUST_ANCHORS = str(jpki_env.ca_cert_path)
    settings.JPKI_CRL_URL = f"{card_app.url}/ca/crl.der"
    settings.CARDAPP_URL = card_app.url
    for card_id in card_app.cards.ids():
        card_app.cards.reset(card_id)
    return card_app


@pytest.fixture
def browser() -> Iterator[Browser]:
    """Per test, not per session: Playwright's sync API leaves its event loop marked as running in this
    thread, and Django then refuses ORM calls here (the database flush after each test) as async-unsafe.
    Set up after the database and torn down before its flush, it never overlaps them."""
    with sync_playwright() as driver:
        browser = driver.chromium.launch(executable_path=CHROMIUM, headless=True)
        yield browser
        browser.close()


def _japanese_context(browser: Browser, **options: Any) -> Iterator[BrowserContext]:
    # A Japanese browser, as most residents have: the portal must start in Japanese.
    context = browser.new_context(locale="ja-JP", **options)
    context.set_default_timeout(EXPECT_TIMEOUT_MS)
    expect.set_options(timeout=EXPECT_TIMEOUT_MS)
    yield context
    context.close()


@pytest.fixture
def context(browser: Browser) -> Iterator[BrowserContext]:
    yield from _japanese_context(browser)


@pytest.fixture
def page(context: BrowserContext) -> Page:
    return context.new_page()


@pytest.fixture
def phone_context(browser: Browser) -> Iterator[BrowserContext]:
    """Like `context`, on a small touch screen (tests/browser/phone.py)."""
    yield from _japanese_context(browser, **PHONE)


@pytest.fixture
def phone_page(phone_context: BrowserContext) -> Page:
    return phone_context.new_page()


@pytest.fixture
def layout(phone_context: BrowserContext, tmp_path: Path) -> LayoutFindings:
    """Collects what the phone's pages do wrong; screenshots in tmp_path/screens, of every page checked
    with PORTAL_TEST_SCREENSHOTS=1."""
    every_page = os.environ.get("PORTAL_TEST_SCREENSHOTS") == "1"
    findings = LayoutFindings(tmp_path / "screens", every_page=every_page)
    findings.watch(phone_context)
    return findings


# The agency simulator and a real worker beside the live portal, for pages that show agency data.
from tests.integration.conftest import (  # noqa: E402, F401 -- fixtures used by name
    agency_simulator,
    pointed_at,
    portal_to_agency,
    running_worker,
    worker_environment,
)


@pytest.fixture
def agency_worker(worker_environment, portal_to_agency, tmp_path):  # noqa: F811
    """A worker like the Procfile's fetch worker, also taking the default queue (webhooks), pointed at the
    simulator of this run."""
    # OIDC_ISSUER: what the web process calls itself (a test may set it to the live server), which
    # callbacks say too.
    environment = pointed_at(worker_environment, portal_to_agency, OIDC_ISSUER=django_settings.OIDC_ISSUER)
    with running_worker(
        environment,
        queues=("fetch", "default"),
        name="browser-worker",
        log_path=tmp_path / "worker.log",
        pool="threads",
        concurrency=12,
    ) as process:
        yield process
