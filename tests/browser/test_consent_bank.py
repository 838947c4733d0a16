"""The consent API in Chromium, end to end: the sample bank (simulators/bank, authlib's client) asks for
the resident's income for a mortgage pre-screening; she reads the consent screen, signs it with her card,
the bank shows her income; she finds the grant on /consents/ and the release in /history/, revokes it,
and the bank's next call is refused. The bank is told of the end by a signed callback. On a phone: the
consent screen, its step-up, the card app's signing screen and /consents/ are checked as
tests/browser/phone.py says."""

import json

import pytest
from playwright.sync_api import Page, expect

from portal.firms.models import AccessKind
from simulators.bank.config import Settings as BankSettings
from simulators.bank.runner import running_bank
from tests.browser.conftest import CardApp
from tests.browser.phone import LayoutFindings
from tests.browser.test_card_login import _approve, _open_card_app, first_login
from tests.conftest import PEOPLE
from tests.consents.conftest import firm_make

pytestmark = [pytest.mark.browser, pytest.mark.integration]

PERSON_ID = "yamada-hanako"
PERSON = PEOPLE[PERSON_ID]


@pytest.fixture
def sakura_bank(live_server, settings, tmp_path):
    settings.OIDC_ISSUER = live_server.url
    bank_settings = BankSettings(
        portal_url=live_server.url,
        data_dir=tmp_path / "bank",
        key_file=tmp_path / "keys" / "sakura-bank.pem",
        jwks_file=tmp_path / "keys" / "sakura-bank.jwks.json",
    )
    with running_bank(bank_settings) as bank:
        # Periodic without a limit on how often, so that "check again" works until she revokes.
        firm_make(
            client_id=bank.settings.client_id,
            access_kind=AccessKind.PERIODIC,
            interval_days=None,
            redirect_uri=bank.settings.redirect_uri,
            callback_url=bank.settings.callback_url,
            jwks=json.loads(bank.settings.jwks_file.read_text()),
        )
        yield bank


def test_the_bank_gets_her_income_with_her_signed_consent_and_loses_it_when_she_revokes(
    live_server,
    sakura_bank,
    agency_worker,
    portal_with_card_app: CardApp,
    phone_page: Page,
    layout: LayoutFindings,
):
    page = phone_page
    first_login(page, live_server.url, portal_with_card_app, PERSON_ID)

    page.goto(sakura_bank.url)
    page.locator("#start").click()

    # The portal's consent screen: who, why, exactly what, for how long, and how to revoke.
    expect(page.locator("#firm-legal-name")).to_have_text("株式会社さくら銀行")
    expect(page.locator("#firm-corporate-number")).to_have_text("7010001008844")
    expect(page.locator("#consent-purpose")).to_have_text("住宅ローンの事前審査")
    expect(page.locator("#consent-items li")).to_have_count(4)
    expect(page.locator("#consent-access")).to_contain_text("定期的")
    layout.check_both_languages(page, "consent screen")
    page.locator("#consent-approve").click()

    # She signs the consent with her card's signature certificate.
    expect(page.locator("body")).to_contain_text("株式会社さくら銀行")
    layout.check_both_languages(page, "/stepup/ for the consent")
    card_page = _open_card_app(page, portal_with_card_app)
    layout.check(card_page, "card app: signing the consent")
    _approve(card_page, certificate="signature", card_id=PERSON_ID, secret=PERSON["card"]["password"])
    expect(card_page.locator("#result")).to_have_attribute("data-status", "accepted")
    card_page.close()

    # Back at the bank: her name and income, read through the consent API.
    expect(page.locator("#applicant-name")).to_have_text(PERSON["name"], timeout=60_000)
    expect(page.locator("#income")).to_be_visible(timeout=60_000)
    application_url = page.url

    # On the portal: the grant on /consents/ and the release in her access history.
    page.goto(f"{live_server.url}/consents/")
    grant = page.locator("#consents li").first
    expect(grant).to_contain_text("株式会社さくら銀行")
    expect(grant).to_contain_text("住宅ローンの事前審査")
    layout.check_both_languages(page, "/consents/ with a grant")
    page.goto(f"{live_server.url}/history/")
    expect(page.locator("body")).to_contain_text("株式会社さくら銀行")
    expect(page.locator("body")).to_contain_text("住宅ローンの事前審査")

    # While the consent lasts, the bank may ask again.
    page.goto(application_url)
    page.locator("#check-again").click()
    expect(page.locator("#last-check")).to_have_attribute("data-code", "ok", timeout=30_000)

    # She revokes it on the portal.
    page.goto(f"{live_server.url}/consents/")
    page.locator(".consent-revoke").first.click()
    expect(page.locator(".consent-revoke")).to_have_count(0)
    expect(page.locator(".consent-state").first).to_contain_text("取り消し")
    layout.check(page, "/consents/ revoked")

    # The bank's next call is refused, and the bank received the portal's notice that the consent ended.
    page.goto(application_url)
    page.locator("#check-again").click()
    expect(page.locator("#last-check")).not_to_have_attribute("data-code", "ok", timeout=30_000)
    expect(page.locator("#last-check")).not_to_have_attribute("data-code", "pending")
    told = page.locator("table", has_text="ご本人が同意を取り消しました")
    for _ in range(60):  # the portal's worker posts the notice; the bank's page shows what arrived
        page.goto(sakura_bank.url)
        if told.count():
            break
        page.wait_for_timeout(500)
    expect(told).to_have_count(1)
    layout.assert_fit()
