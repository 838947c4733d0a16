"""The sixty-second procedure (issue 5, item 5) in a real browser: every part a real process or HTTP call.

The demo single parent logs in (first login: the user folder with the signature certificate) and her own
information arrives through a real worker. The agency simulator, as the municipal child support division,
sends her the child-rearing allowance status report (児童扶養手当の現況届) through the agency API
(``python -m simulators.agency send-status-report`` against the live server). She sees it in her inbox,
opens it, finds household, income and allowance filled in, ticks one box, submits and signs in the card app;
the receipt shows and the simulator's webhook receives the signed answer.

The resident's interactions are counted in the pages themselves (clicks, key presses, text entries and
choices in selects), separately for the portal and the card app.
"""

import os
import re
import subprocess
import sys
import time
from collections import Counter
from urllib.parse import urlsplit

import httpx
import pytest
from playwright.sync_api import BrowserContext, Page, expect

from tests.browser.conftest import CardApp
from tests.browser.test_card_login import _approve, _open_card_app
from tests.conftest import PEOPLE, REPO
from tests.integration.conftest import AgencySimulator, wait_until

pytestmark = [pytest.mark.browser, pytest.mark.integration]

PERSON_ID = "sato-misaki"
PERSON = PEOPLE[PERSON_ID]
SENDER = "municipal-child"
PORTAL_MAX_INTERACTIONS = 5

# Reports each interaction of the resident to the test, with the origin of the page it happened in.
# Playwright's fill() sends no key events, only "input": an input in a text field counts as typing.
COUNTER_SCRIPT = """
(() => {
  const report = (kind) => window.__interaction && window.__interaction(location.origin, kind);
  const typed = (el) => el && (el.tagName === "TEXTAREA" ||
    (el.tagName === "INPUT" && !["checkbox", "radio", "submit", "button", "hidden"].includes(el.type)));
  document.addEventListener("click", () => report("click"), true);
  document.addEventListener("keydown", () => report("key"), true);
  document.addEventListener("input", (e) => { if (typed(e.target)) report("text"); }, true);
  document.addEventListener("change", (e) => { if (e.target.tagName === "SELECT") report("select"); }, true);
})();
"""


class Interactions:
    def __init__(self, context: BrowserContext, portal_url: str) -> None:
        self.portal_origin = "{0.scheme}://{0.netloc}".format(urlsplit(portal_url))
        self.portal: Counter[str] = Counter()
        self.card_app: Counter[str] = Counter()
        self.counting = False
        context.expose_binding("__interaction", self._seen)
        context.add_init_script(COUNTER_SCRIPT)

    def _seen(self, source, origin: str, kind: str) -> None:
        if self.counting:
            (self.portal if origin == self.portal_origin else self.card_app)[kind] += 1


def _simulator_environment(simulator: AgencySimulator) -> dict[str, str]:
    """The simulator's own environment (the data dir holds the sender's key and webhook secret)."""
    return {
        **os.environ,
        "AGENCY_SIM_DATA_DIR": str(simulator.key_file.parent / "data"),
        "AGENCY_SIM_PUBLIC_URL": simulator.url,
        "AGENCY_SIM_CONTROL_TOKEN": simulator.control_token,
    }


def _simulator_cli(simulator: AgencySimulator, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "simulators.agency", *args],
        cwd=REPO,
        env=_simulator_environment(simulator),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.fixture
def sender_registered(worker_environment, portal_to_agency, settings, live_server):
    """Staff register the simulated child support division as the demo does: its JWKS and webhook."""
    simulator = portal_to_agency
    arguments = _simulator_cli(simulator, "sender-credentials", "--register-args")
    assert arguments.returncode == 0, arguments.stderr
    registered = subprocess.run(
        [sys.executable, "manage.py", "agency_client_register", *arguments.stdout.splitlines()],
        cwd=REPO,
        env=worker_environment,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert registered.returncode == 0, registered.stderr
    settings.AGENCY_API_AUDIENCES = [f"{live_server.url}/api/agency/v1"]
    httpx.delete(
        f"{simulator.url}/_control/agencies/{SENDER}/notice-responses",
        headers={"X-Control-Token": simulator.control_token},
        timeout=5,
    ).raise_for_status()
    return simulator


def _received(simulator: AgencySimulator) -> list[dict]:
    response = httpx.get(
        f"{simulator.url}/_control/agencies/{SENDER}/notice-responses",
        headers={"X-Control-Token": simulator.control_token},
        timeout=5,
    )
    response.raise_for_status()
    return response.json()["responses"]


def sign_and_await_receipt(page: Page, card_app: CardApp) -> str:
    """The signature step-up in the card app, with her signature password; the portal's page then moves on
    by itself to the receipt, whose number is returned."""
    card_page = _open_card_app(page, card_app)
    _approve(card_page, certificate="signature", card_id=PERSON_ID, secret=PERSON["card"]["password"])
    expect(card_page.locator("#result")).to_have_attribute("data-status", "accepted")
    card_page.close()
    expect(page.locator("#receipt-number")).to_have_text(re.compile(r"\S+"), timeout=15_000)
    expect(page.locator("#receipt-signed")).to_contain_text("署名済み")
    return page.locator("#receipt-number").inner_text().strip()


def test_status_report_is_answered_with_one_check_and_one_signature(
    sender_registered: AgencySimulator,
    agency_worker,
    live_server,
    portal_with_card_app: CardApp,
    context: BrowserContext,
    page: Page,
):
    card_app = portal_with_card_app
    interactions = Interactions(context, live_server.url)

    # First login: authentication, then the user folder with the signature certificate.
    page.goto(f"{live_server.url}/login/")
    card_page = _open_card_app(page, card_app)
    _approve(card_page, certificate="auth", card_id=PERSON_ID, secret=PERSON["card"]["pin"])
    card_page.close()
    expect(page).to_have_url(re.compile(r"/login/register/[0-9a-f-]+/$"))
    card_page = _open_card_app(page, card_app)
    _approve(card_page, certificate="signature", card_id=PERSON_ID, secret=PERSON["card"]["password"])
    card_page.close()
    expect(page).to_have_url(f"{live_server.url}/")

    # Her information arrives from the agencies through the worker (started by the login).
    page.goto(f"{live_server.url}/myinfo/")
    expect(page.locator('.category[data-state="fetching"]')).to_have_count(0, timeout=60_000)
    for category in ("household", "income_tax", "child_allowance"):
        expect(page.locator(f"#category-{category}")).to_have_attribute("data-state", "done")
    page.goto(f"{live_server.url}/")
    expect(page.locator("#unread-count")).to_have_count(0)

    # The agency sends the status report through the real agency API.
    started = time.monotonic()
    sent = _simulator_cli(
        sender_registered, "send-status-report", "--portal", live_server.url, "--person", PERSON_ID
    )
    assert sent.returncode == 0, sent.stdout + sent.stderr
    assert "HTTP 201" in sent.stderr

    # From here on every interaction of the resident is counted.
    page.reload()
    interactions.counting = True
    expect(page.locator("#unread-count")).to_contain_text("1")
    page.locator("#inbox-link").click()
    item = page.locator(".inbox__item--unread", has_text="児童扶養手当の現況届")
    expect(item.locator(".tag--action")).to_be_visible()
    item.locator("a").click()

    # Pre-filled from her own information: nothing to type.
    expect(page.locator("#prefill-note")).to_be_visible()
    expect(page.locator("#prefill-missing")).to_have_count(0)
    household = page.locator("#field-household_members")
    expect(household).to_contain_text("佐藤 美咲")
    expect(household).to_contain_text("佐藤 陽翔")
    expect(page.locator("#input-annual_income")).to_have_value(re.compile(r"^\d+$"))
    expect(page.locator("#field-current_allowance")).to_contain_text("児童扶養手当")
    page.locator("#confirmed").check()
    page.locator("#submit-answer").click()

    receipt = sign_and_await_receipt(page, card_app)
    interactions.counting = False
    answered_in = time.monotonic() - started

    # The simulated agency receives the signed answer at its webhook.
    events = wait_until(lambda: _received(sender_registered), timeout=30, what="the webhook delivery")
    delivered_in = time.monotonic() - started
    (received,) = events
    response = received["event"]["response"]
    assert received["event"]["type"] == "notice.response"
    assert response["receipt_number"] == receipt
    assert response["signature"]["signed"] is True and response["signature"]["act_digest"]
    answers = response["answers"]
    assert [m["name"] for m in answers["household_members"]] == ["佐藤 美咲", "佐藤 陽翔"]
    assert isinstance(answers["annual_income"], int) and answers["annual_income"] > 0
    assert answers["current_allowance"]["program"] == "児童扶養手当"

    portal_total = sum(interactions.portal.values())
    card_total = sum(interactions.card_app.values())
    print(
        f"\nstatus report: portal interactions {portal_total} {dict(interactions.portal)}, "
        f"card app interactions {card_total} {dict(interactions.card_app)}; "
        f"answered {answered_in:.1f} s and webhook received {delivered_in:.1f} s after the agency sent it"
    )
    assert interactions.portal["text"] == 0 and interactions.portal["key"] == 0  # no typing in the portal
    assert portal_total <= PORTAL_MAX_INTERACTIONS
    assert interactions.portal["click"] == portal_total
    # The card app: choose the card, type the signature password, approve.
    assert interactions.card_app == Counter({"select": 1, "text": 1, "click": 1})
    assert answered_in < 60
