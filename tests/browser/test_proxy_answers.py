"""Issue 7's "answer notices" in Chromium: the elderly father invites his daughter to answer his notices, she
accepts with her own card and he signs her in; the municipality's simulator sends him the status report
(現況届) through the agency API; she, acting for him, finds it pre-filled from his information, ticks the
box and signs with HER card, the signature page saying for whom. The simulator's webhook receives the
answer marked as a proxy's (her name and the agency's own code for her, no universal key); he sees in
his inbox that she answered, on the notice who answered and when, and in his history her sending it.

Every part is a real process or HTTP call: the portal on the live server, a Celery worker, the agency
simulator and the card app.
"""

import re
from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect

from tests.browser.conftest import EXPECT_TIMEOUT_MS, CardApp
from tests.browser.test_card_login import _approve, _open_card_app, first_login
from tests.browser.test_status_report import (  # noqa: F401 -- sender_registered is a fixture
    _received,
    _simulator_cli,
    sender_registered,
)
from tests.conftest import PEOPLE
from tests.integration.conftest import AgencySimulator, wait_until

pytestmark = [pytest.mark.browser, pytest.mark.integration]

PRINCIPAL_ID = "tanaka-kazuo"
PROXY_ID = "tanaka-yuki"
PRINCIPAL = PEOPLE[PRINCIPAL_ID]
PROXY = PEOPLE[PROXY_ID]
SENDER = "municipal-child"
ANSWER_SCOPE = "お知らせに回答する（読むことも含みます。署名は代理人ご自身のカードで）"
FETCH_TIMEOUT_MS = 60_000


@pytest.fixture
def other_context(browser: Browser) -> Iterator[BrowserContext]:
    """The daughter's browser: her own cookies."""
    context = browser.new_context(locale="ja-JP")
    context.set_default_timeout(EXPECT_TIMEOUT_MS)
    yield context
    context.close()


def _agency_code_of(simulator: AgencySimulator, person_id: str) -> str:
    """The simulated agency's own code for a demo person, as its CLI derives it."""
    shown = _simulator_cli(simulator, "code", person_id, "--agency", SENDER)
    assert shown.returncode == 0, shown.stderr
    agency, code = shown.stdout.split()
    assert agency == SENDER
    return code


def _invite_and_appoint(page: Page, proxy_page: Page, base: str, card_app: CardApp) -> None:
    """He invites her to answer his notices only, she accepts, he signs her in."""
    page.goto(f"{base}/proxies/")
    invite = page.locator("#invite")
    expect(invite.locator("#scopes-hint")).to_contain_text("「お知らせを読む」も含まれます")
    invite.get_by_label(ANSWER_SCOPE, exact=True).check()
    page.locator("#create-invitation").click()
    code = page.locator("#invitation-code").inner_text().strip()
    # Answering brings reading with it: both are what he grants, and signs.
    expect(page.locator("#given .grant")).to_contain_text(f"{ANSWER_SCOPE}、お知らせを読む")

    proxy_page.goto(f"{base}/proxies/accept/")
    proxy_page.locator("#code").fill(code)
    proxy_page.locator("#accept").click()
    expect(proxy_page.locator(".messages")).to_contain_text("招待を受けました")

    page.goto(f"{base}/proxies/")
    page.locator("#given .grant .confirm-grant").click()
    card_page = _open_card_app(page, card_app)
    _approve(card_page, certificate="signature", card_id=PRINCIPAL_ID, secret=PRINCIPAL["card"]["password"])
    card_page.close()
    expect(page.locator(".messages")).to_contain_text("代理人を登録しました", timeout=15_000)


def test_the_invited_daughter_answers_her_fathers_status_report_with_her_own_signature(
    sender_registered: AgencySimulator,  # noqa: F811 -- the fixture imported above
    agency_worker,
    live_server,
    portal_with_card_app: CardApp,
    page: Page,
    other_context: BrowserContext,
):
    card_app = portal_with_card_app
    base = live_server.url

    # 1. He logs in; his household and income arrive (the form is filled from them).
    first_login(page, base, card_app, PRINCIPAL_ID)
    page.goto(f"{base}/myinfo/")
    expect(page.locator('.category[data-state="fetching"]')).to_have_count(0, timeout=FETCH_TIMEOUT_MS)
    for category in ("household", "income_tax"):
        expect(page.locator(f"#category-{category}")).to_have_attribute("data-state", "done")

    # 2. She logs in with her own card; he makes her his proxy for answering notices.
    proxy_page = other_context.new_page()
    first_login(proxy_page, base, card_app, PROXY_ID)
    _invite_and_appoint(page, proxy_page, base, card_app)

    # 3. The municipality sends him the status report through the agency API.
    sent = _simulator_cli(sender_registered, "send-status-report", "--portal", base, "--person", PRINCIPAL_ID)
    assert sent.returncode == 0, sent.stdout + sent.stderr

    # 4. She acts for him, opens it from his inbox and finds it filled in from his information.
    proxy_page.goto(f"{base}/proxies/")
    proxy_page.locator("#held .grant .act-for").click()
    expect(proxy_page.locator("#acting-banner")).to_contain_text(PRINCIPAL["name"])
    proxy_page.goto(f"{base}/notices/")
    proxy_page.locator(".inbox__item", has_text="児童扶養手当の現況届").locator("a").click()
    expect(proxy_page.locator("#answering-for")).to_contain_text(
        f"{PRINCIPAL['name']}さんの代理人として回答します"
    )
    expect(proxy_page.locator("#field-household_members")).to_contain_text(PRINCIPAL["name"])
    expect(proxy_page.locator("#input-annual_income")).to_have_value(re.compile(r"^\d+$"))
    expect(proxy_page.locator("#signature-note")).to_contain_text("あなたご自身の署名用電子証明書")
    expect(proxy_page.locator("#archive")).to_have_count(0)
    proxy_page.locator("#confirmed").check()
    proxy_page.locator("#submit-answer").click()

    # 5. The signature page and the card app say she signs for him; she signs with her own card.
    expect(proxy_page).to_have_url(re.compile(r"/stepup/[0-9a-f-]+/$"))
    expect(proxy_page.locator(".signing__summary")).to_contain_text(f"{PRINCIPAL['name']}さんの代理人として")
    card_page = _open_card_app(proxy_page, card_app)
    expect(card_page.locator("#summary-ja")).to_contain_text(f"{PRINCIPAL['name']}さんの代理人として")
    _approve(card_page, certificate="signature", card_id=PROXY_ID, secret=PROXY["card"]["password"])
    expect(card_page.locator("#result")).to_have_attribute("data-status", "accepted")
    card_page.close()
    expect(proxy_page.locator("#receipt-number")).to_have_text(re.compile(r"\S+"), timeout=15_000)
    expect(proxy_page.locator("#receipt-signed")).to_contain_text("署名済み")
    expect(proxy_page.locator("#receipt-answered-by")).to_have_text(
        f"代理人 {PROXY['name']}（{PRINCIPAL['name']}さんの代理）"
    )
    receipt = proxy_page.locator("#receipt-number").inner_text().strip()

    # 6. The agency receives the signed answer, said to be a proxy's: her name and its code for her.
    (received,) = wait_until(lambda: _received(sender_registered), timeout=30, what="the webhook delivery")
    response = received["event"]["response"]
    assert response["receipt_number"] == receipt and response["signature"]["signed"] is True
    assert response["agency_code"] == _agency_code_of(sender_registered, PRINCIPAL_ID)
    assert response["answered_by"] == {
        "kind": "proxy",
        "relationship": "voluntary",
        "name": PROXY["name"],
        "agency_code": _agency_code_of(sender_registered, PROXY_ID),
    }
    assert [m["name"] for m in response["answers"]["household_members"]] == [PRINCIPAL["name"]]
    for universal in (PROXY["my_number"], PRINCIPAL["my_number"]):
        assert universal not in str(received)

    # 7. He is told, his notice says who answered and when, and his history has her sending it.
    page.goto(f"{base}/notices/")
    told = page.locator(".inbox__item", has_text="代理人がお知らせに回答しました")
    expect(told).to_have_count(1)
    page.locator(".inbox__item", has_text="児童扶養手当の現況届").locator("a").click()
    when = r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}"
    expect(page.locator("#answered-by")).to_have_text(
        re.compile(f"^{when} に代理人の{PROXY['name']}さんが回答しました。$")
    )
    page.goto(f"{base}/history/")
    sent_record = page.locator("#history-records .history__item--proxy", has_text="行政機関に送信")
    expect(sent_record).to_contain_text(f"代理人の{PROXY['name']}さんが、")
    expect(sent_record).to_contain_text("あなたのお知らせを行政機関に送信しました。")
