"""The public-fund account in Chromium: a resident registers his own account in a few steps and sees it
verified by the (simulated) bank; his daughter's account is refused with the reason; a simulated agency
looks the account up and he reads that look-up in his access history. On a phone: the form, the step-up
page and the card app's signing screen are checked as tests/browser/phone.py says."""

import re

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import CardApp
from tests.browser.phone import LayoutFindings
from tests.browser.test_card_login import _approve, _open_card_app, first_login
from tests.browser.test_status_report import _simulator_cli, sender_registered  # noqa: F401
from tests.conftest import PEOPLE
from tests.integration.conftest import AgencySimulator

pytestmark = [pytest.mark.browser, pytest.mark.integration]

PERSON_ID = "tanaka-kazuo"
PERSON = PEOPLE[PERSON_ID]
PURPOSE = "臨時特別給付金の支給"


def test_own_account_is_verified_and_a_family_members_is_refused(
    sender_registered: AgencySimulator,  # noqa: F811
    agency_worker,
    live_server,
    portal_with_card_app: CardApp,
    phone_page: Page,
    layout: LayoutFindings,
):
    page = phone_page
    first_login(page, live_server.url, portal_with_card_app, PERSON_ID)
    page.locator("#menu-account a").click()
    expect(page.locator("#no-account")).to_be_visible()
    page.locator("#register").click()

    # The search suggests banks by name, then the branches of the bank chosen.
    page.locator("#bank").fill("みずほ")
    expect(page.locator("#bank-options option[value='0001']")).to_have_count(1)
    page.locator("#bank").fill("0001")
    page.locator("#branch").fill("東京")
    expect(page.locator("#branch-options option").first).to_have_attribute("value", re.compile(r"^\d{3}$"))
    expect(page.locator("#japan-post")).to_be_hidden()  # not Japan Post Bank
    layout.check(page, "/account/register/ searching")

    # His daughter's account: refused before any signature, with the reason.
    page.locator("#bank").fill("0005")
    page.locator("#branch").fill("001")
    page.locator("#number").fill("4567890")
    page.locator("#holder_kana").fill("ﾀﾅｶ ﾕｷ")
    page.locator("#to-sign").click()
    expect(page.locator("#error")).to_have_attribute("data-code", "holder_not_resident")
    expect(page.locator("#error")).to_contain_text("ご本人名義の口座だけを登録できます")
    layout.check(page, "/account/register/ refused")

    # His own Japan Post Bank account, by the symbol and number on his passbook; the name is pre-filled.
    page.locator("#bank").fill("ゆうちょ")
    page.locator("#branch").fill("")
    page.locator("#number").fill("")
    page.locator("#jp_symbol").fill("12340")
    page.locator("#jp_number").fill("12345671")
    page.locator("#holder_kana").fill(PERSON["name_kana"])
    page.locator("#to-sign").click()

    # The summary he signs names the converted branch and number.
    expect(page.locator("body")).to_contain_text("1234567")
    layout.check_both_languages(page, "/stepup/ for the account")
    card_page = _open_card_app(page, portal_with_card_app)
    layout.check(card_page, "card app: signing the account")
    _approve(card_page, certificate="signature", card_id=PERSON_ID, secret=PERSON["card"]["password"])
    expect(card_page.locator("#result")).to_have_attribute("data-status", "accepted")
    card_page.close()

    # Back on /account/: the bank checks, then the account shows as verified.
    expect(page).to_have_url(f"{live_server.url}/account/", timeout=30_000)
    expect(page.locator("#account-state")).to_have_attribute("data-state", "verified", timeout=60_000)
    expect(page.locator("#account-number")).to_have_text("●●●●567")
    expect(page.locator("#account-branch")).to_contain_text("238")
    layout.check_both_languages(page, "/account/ verified")

    # A simulated agency looks the account up for a payment, through the agency API.
    looked_up = _simulator_cli(
        sender_registered,
        "lookup-account",
        "--portal",
        live_server.url,
        "--person",
        PERSON_ID,
        "--purpose",
        PURPOSE,
    )
    assert looked_up.returncode == 0, looked_up.stdout + looked_up.stderr
    assert '"account_number": "1234567"' in looked_up.stdout

    page.goto(f"{live_server.url}/history/")
    expect(page.locator("body")).to_contain_text(PURPOSE)
    expect(page.locator("body")).to_contain_text("公金受取口座")
    layout.assert_fit()
