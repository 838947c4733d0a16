"""Logging in with the card in a real browser: the portal's QR page, the card app in a second tab, the
waiting page moving on by itself, the user folder on first login, the dashboard and logging out.

On a phone, as most residents log in: each screen of the card app (the smartphone app it stands for), and
the portal's pages on the way, are checked as tests/browser/phone.py says.
"""

import datetime as dt
import re

import pytest
from django.utils import timezone
from playwright.sync_api import Page, expect

from portal.identity.models import SigningKind, SigningRequest
from tests.browser.conftest import CardApp, off_playwright_thread
from tests.browser.phone import LayoutFindings
from tests.conftest import PEOPLE

pytestmark = pytest.mark.browser

PERSON = PEOPLE["yamada-hanako"]
REVOKED_ID = "takahashi-ken"  # his card was reported lost: its certificates are on the CRL


def _open_card_app(page: Page, card_app: CardApp) -> Page:
    """Follows the portal's "open the card app" link, which opens a new tab."""
    link = page.locator("#card-app-link")
    expect(link).to_have_attribute("href", re.compile(rf"^{re.escape(card_app.url)}/approve\?request=http"))
    with page.context.expect_page() as opened:
        link.click()
    card_page = opened.value
    card_page.wait_for_load_state()
    return card_page


def _approve(card_page: Page, *, certificate: str, card_id: str, secret: str) -> None:
    expect(card_page.locator("#certificate")).to_have_attribute("data-certificate", certificate)
    card_page.locator("#card").select_option(card_id)
    card_page.locator("#secret").fill(secret)
    # Wait for the card app's answer page: closing the tab while its form post is still in flight can
    # leave Chromium's close waiting forever (page.close has no timeout).
    with card_page.expect_navigation():
        card_page.locator("#approve").click()


def first_login(page: Page, base_url: str, card_app: CardApp, person_id: str) -> None:
    """A demo person's first login through the QR flow, their user folder opened with the signature
    certificate, ending on their dashboard."""
    person = PEOPLE[person_id]
    page.goto(f"{base_url}/login/")
    card_page = _open_card_app(page, card_app)
    _approve(card_page, certificate="auth", card_id=person_id, secret=person["card"]["pin"])
    card_page.close()
    expect(page).to_have_url(re.compile(r"/login/register/[0-9a-f-]+/$"))
    card_page = _open_card_app(page, card_app)
    _approve(card_page, certificate="signature", card_id=person_id, secret=person["card"]["password"])
    card_page.close()
    expect(page).to_have_url(f"{base_url}/")
    expect(page.locator("#greeting")).to_contain_text(person["name"])


def test_first_login_registers_shows_masked_number_and_logs_out(
    phone_page: Page, layout: LayoutFindings, live_server, portal_with_card_app: CardApp
):
    card_app = portal_with_card_app
    page = phone_page
    page.goto(f"{live_server.url}/login/")
    expect(page.locator(".signing__qr svg")).to_be_visible()

    card_page = _open_card_app(page, card_app)
    # The challenge's end as the phone's clock shows it, in minutes.
    expect(card_page.locator("#expires")).to_have_text(re.compile(r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}$"))
    layout.check(card_page, "card app: a login")
    _approve(card_page, certificate="auth", card_id="yamada-hanako", secret=PERSON["card"]["pin"])
    expect(card_page.locator("#result")).to_have_attribute("data-status", "accepted")
    layout.check(card_page, "card app: sent")
    card_page.close()

    # First login: the waiting page moves on to the user folder, which needs the signature certificate.
    expect(page).to_have_url(re.compile(r"/login/register/[0-9a-f-]+/$"))
    layout.check_both_languages(page, "/login/register/")
    card_page = _open_card_app(page, card_app)
    expect(card_page.locator(".warn")).to_contain_text("My Number will be read")
    layout.check(card_page, "card app: opening the user folder")
    _approve(card_page, certificate="signature", card_id="yamada-hanako", secret=PERSON["card"]["password"])
    expect(card_page.locator("#result")).to_have_attribute("data-status", "accepted")
    card_page.close()

    expect(page).to_have_url(f"{live_server.url}/")
    expect(page.locator("#greeting")).to_contain_text(PERSON["name"])
    expect(page.locator("#my-number-masked")).to_have_text("●●●● ●●●● " + PERSON["my_number"][-4:])
    assert PERSON["my_number"] not in page.content()

    # The access history shows the dashboard's own release, in a plain sentence.
    page.locator("#menu-history a").click()
    expect(page).to_have_url(f"{live_server.url}/history/")
    expect(page.locator("#history-records")).to_contain_text("ご本人が、トップページの表示のため")
    page.locator(".site-logo").click()

    page.locator("#logout").click()
    expect(page.locator("#logged-out")).to_be_visible()
    layout.check(page, "logged out")
    page.goto(f"{live_server.url}/")
    expect(page).to_have_url(f"{live_server.url}/login/?next=/")
    expect(page.locator("#logout")).to_have_count(0)
    layout.assert_fit()


def test_language_switch_shows_login_page_in_english(page: Page, live_server, portal_with_card_app: CardApp):
    page.goto(f"{live_server.url}/login/")
    expect(page.locator("h1")).to_have_text("マイナンバーカードでログイン")

    page.locator(".lang-switch button[value=en]").click()

    expect(page).to_have_url(f"{live_server.url}/login/")
    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(page.locator("h1")).to_have_text("Log in with your My Number Card")
    expect(page.locator("#card-app-link")).to_have_text("Open the card app")
    expect(page.locator("#signing-status")).to_have_text("Waiting for your card…")
    expect(page.locator(".lang-switch button[value=ja]")).to_have_text("日本語")


def _expire_login_requests() -> None:
    past = timezone.now() - dt.timedelta(seconds=1)
    SigningRequest.objects.filter(kind=SigningKind.LOGIN).update(expires_at=past)


def test_wrong_pins_lock_the_card_while_the_portal_waits_until_its_request_expires(
    phone_page: Page, layout: LayoutFindings, live_server, portal_with_card_app: CardApp
):
    card_app = portal_with_card_app
    page = phone_page
    page.goto(f"{live_server.url}/login/")
    waiting = page.locator("#signing-status").inner_text()
    card_page = _open_card_app(page, card_app)

    _approve(card_page, certificate="auth", card_id="yamada-hanako", secret="9999")

    result = card_page.locator("#result")
    expect(result).to_have_attribute("data-status", "card-error")
    expect(result).to_have_attribute("data-code", "wrong_secret")
    expect(card_page.locator("#message-en")).to_contain_text("Wrong PIN")
    expect(card_page.locator("#message-en")).to_contain_text("2 tries left")
    layout.check(card_page, "card app: wrong PIN")
    # A poll of the waiting page sent after the refusal still finds the request pending.
    with page.expect_request(re.compile(r"/signing/[0-9a-f-]+/status/$")) as polled:
        pass
    assert polled.value.response().json() == {"status": "pending"}
    expect(page).to_have_url(f"{live_server.url}/login/")
    expect(page.locator("#signing-status")).to_have_text(waiting)
    page.goto(f"{live_server.url}/")
    expect(page).to_have_url(f"{live_server.url}/login/?next=/")

    # Two more wrong PINs lock the card's user-authentication certificate, as a real card's chip does.
    for tries_left in (1, 0):
        card_page.locator("#retry").click()
        _approve(card_page, certificate="auth", card_id="yamada-hanako", secret="9999")
        expect(result).to_have_attribute("data-code", "wrong_secret" if tries_left else "card_locked")
    expect(card_page.locator("#message-ja")).to_contain_text("ロックされています")
    expect(card_page.locator("#message-en")).to_contain_text("locked")
    expect(card_page.locator("#retry")).to_have_count(0)  # typing again cannot help: the office must reset it
    layout.check(card_page, "card app: locked")

    # The waiting page, once its challenge has expired, says so and offers no code or button that cannot
    # work any more; the card app, opened from the code all the same, refuses the expired challenge too.
    link = page.locator("#card-app-link").get_attribute("href")
    off_playwright_thread(_expire_login_requests)
    status = page.locator("#signing-status")
    expect(status).to_have_text("有効期限が切れました。「最初からやり直す」から、もう一度お進みください。")
    expect(status).to_have_class(re.compile(r"signing__status--error"))
    for gone in ("#complete", ".signing__qr", "#card-app-link"):
        expect(page.locator(gone)).to_be_hidden()
    layout.check(page, "/login/ expired")
    card_page.goto(link)
    expect(card_page.locator("#result")).to_have_attribute("data-status", "request-error")
    layout.check(card_page, "card app: expired request")
    # Starting again gives a new challenge to sign, not the expired one.
    page.locator("#signing-again a").click()
    expect(page.locator("#card-app-link")).to_be_visible()
    assert page.locator("#card-app-link").get_attribute("href") != link
    layout.assert_fit()


def test_a_revoked_card_is_refused_and_the_waiting_page_says_why(
    phone_page: Page, layout: LayoutFindings, live_server, portal_with_card_app: CardApp
):
    page = phone_page
    page.goto(f"{live_server.url}/login/")
    card_page = _open_card_app(page, portal_with_card_app)

    _approve(card_page, certificate="auth", card_id=REVOKED_ID, secret=PEOPLE[REVOKED_ID]["card"]["pin"])

    expect(card_page.locator("#result")).to_have_attribute("data-status", "refused")
    expect(card_page.locator("#message-ja")).to_contain_text("失効")
    layout.check(card_page, "card app: refused by the portal")
    status = page.locator("#signing-status")
    expect(status).to_contain_text("この電子証明書は失効しています。")
    expect(status).to_contain_text("This certificate has been revoked.")
    for gone in ("#complete", ".signing__qr", "#card-app-link"):
        expect(page.locator(gone)).to_be_hidden()
    layout.check(page, "/login/ refused")
    page.goto(f"{live_server.url}/")
    expect(page).to_have_url(f"{live_server.url}/login/?next=/")
    layout.assert_fit()
