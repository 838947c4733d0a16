"""Issue 7's "done when", the part that is built, in Chromium: an elderly resident invites his daughter as
his proxy for his medical data and his notices, she accepts with her own card, he signs her in with his
signature certificate, and she then reads what he granted (under a banner naming him) and nothing else.
He reads her reads in his access history and ends the proxy; her next page is her own again.

Two browser contexts, two sets of cookies: his and hers. Both log in for the first time (the user folder
opens with the signature certificate) and their information arrives from the agency simulator through a
real worker. Both on phones: the proxies' pages, the step-up, the card app's signing screen and the
banner while acting are checked as tests/browser/phone.py says.
"""

import re
from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect

from tests.browser.conftest import EXPECT_TIMEOUT_MS, CardApp
from tests.browser.phone import PHONE, LayoutFindings
from tests.browser.test_card_login import _approve, _open_card_app, first_login
from tests.conftest import PEOPLE

pytestmark = [pytest.mark.browser, pytest.mark.integration]

PRINCIPAL_ID = "tanaka-kazuo"
PROXY_ID = "tanaka-yuki"
PRINCIPAL = PEOPLE[PRINCIPAL_ID]
PROXY = PEOPLE[PROXY_ID]
FETCH_TIMEOUT_MS = 60_000
# Medicines of his chronic prescriptions in the simulator's clinical story (blood pressure, cholesterol,
# dementia, prostate), none of which his daughter takes.
HIS_ONLY_MEDICINES = ("アムロジピン", "ピタバスタチン", "ドネペジル", "ナフトピジル")
MEDICAL_CATEGORIES = ("medical_drugs", "medical_checkups", "medical_expenses")


@pytest.fixture
def other_context(browser: Browser) -> Iterator[BrowserContext]:
    """A second phone with its own cookies, set up like the `phone_context` fixture."""
    context = browser.new_context(locale="ja-JP", **PHONE)
    context.set_default_timeout(EXPECT_TIMEOUT_MS)
    yield context
    context.close()


def _wait_for_own_information(page: Page, live_server) -> None:
    """The login started the fetches; the overview reloads itself until none is fetching."""
    page.goto(f"{live_server.url}/myinfo/")
    expect(page.locator('.category[data-state="fetching"]')).to_have_count(0, timeout=FETCH_TIMEOUT_MS)
    expect(page.locator("#category-medical_drugs")).to_have_attribute("data-state", "done")


def _open_acting(page: Page, url: str, *, status: int = 200) -> None:
    """Every page the proxy opens says, above everything, whose proxy she is."""
    response = page.goto(url)
    assert response is not None and response.status == status, (url, response and response.status)
    expect(page.locator("#acting-banner")).to_contain_text(
        f"{PRINCIPAL['name']}さんの代理人として操作しています"
    )


def test_invited_proxy_reads_granted_medical_data_and_notices_but_nothing_else(
    agency_worker,
    live_server,
    portal_with_card_app: CardApp,
    phone_page: Page,
    other_context: BrowserContext,
    layout: LayoutFindings,
):
    card_app = portal_with_card_app
    base = live_server.url
    page = phone_page
    layout.watch(other_context)

    # 1. He logs in; his information arrives; he invites a proxy for his medical data and notices only.
    first_login(page, live_server.url, card_app, PRINCIPAL_ID)
    _wait_for_own_information(page, live_server)
    page.goto(f"{base}/proxies/")
    expect(page.locator("#no-proxies")).to_be_visible()
    invite = page.locator("#invite")
    invite.get_by_label("医療の情報（薬剤・健診・医療費）を見る", exact=True).check()
    invite.get_by_label("お知らせを読む", exact=True).check()
    expect(invite.locator("input[name=scopes]:checked")).to_have_count(2)
    page.locator("#create-invitation").click()
    code = page.locator("#invitation-code")
    expect(code).to_have_text(re.compile(r"^[0-9A-F]{24}$"))
    invitation_code = code.inner_text().strip()
    invited = page.locator("#given .grant")
    expect(invited).to_have_attribute("data-state", "invited")
    expect(invited).to_contain_text("医療の情報（薬剤・健診・医療費）を見る、お知らせを読む")
    layout.check(page, "/proxies/ invitation made")

    # 2. His daughter, in her own browser, logs in with her own card and accepts with the code.
    proxy_page = other_context.new_page()
    first_login(proxy_page, live_server.url, card_app, PROXY_ID)
    _wait_for_own_information(proxy_page, live_server)
    proxy_page.goto(f"{base}/proxies/accept/?code=0000")
    proxy_page.locator("#accept").click()
    expect(proxy_page.locator("#error")).to_be_visible()
    layout.check(proxy_page, "/proxies/accept/ wrong code")
    proxy_page.locator("#code").fill(invitation_code)
    proxy_page.locator("#accept").click()
    expect(proxy_page).to_have_url(f"{base}/proxies/")
    expect(proxy_page.locator(".messages")).to_contain_text("招待を受けました")
    expect(proxy_page.locator("#held")).to_have_count(0)  # nothing to act on before he signs

    # 3. He sees her name, signs her in with his signature certificate, and the grant is active.
    # (Not page.reload(): the code page is the answer to a POST, and a reload makes a second invitation.)
    page.goto(f"{base}/proxies/")
    accepted = page.locator("#given .grant")
    expect(accepted).to_have_count(1)
    expect(accepted).to_have_attribute("data-state", "accepted")
    expect(accepted).to_contain_text(PROXY["name"])
    layout.check_both_languages(page, "/proxies/ invitation accepted")
    accepted.locator(".confirm-grant").click()
    expect(page).to_have_url(re.compile(r"/stepup/[0-9a-f-]+/$"))
    expect(page.locator(".signing__summary")).to_contain_text(f"{PROXY['name']}さんを代理人にします")
    layout.check_both_languages(page, "/stepup/ for the proxy")
    card_page = _open_card_app(page, card_app)
    expect(card_page.locator("#summary-ja")).to_contain_text(f"{PROXY['name']}さんを代理人にします")
    layout.check(card_page, "card app: signing the proxy in")
    _approve(card_page, certificate="signature", card_id=PRINCIPAL_ID, secret=PRINCIPAL["card"]["password"])
    expect(card_page.locator("#result")).to_have_attribute("data-status", "accepted")
    card_page.close()
    expect(page).to_have_url(f"{base}/proxies/", timeout=15_000)
    expect(page.locator(".messages")).to_contain_text("代理人を登録しました")
    active = page.locator("#given .grant")
    expect(active).to_have_attribute("data-state", "active")
    expect(active).to_contain_text(PROXY["name"])
    expect(active.locator(".confirm-grant")).to_have_count(0)
    layout.check_both_languages(page, "/proxies/ with a proxy")

    # 4. She acts for him: a banner on every page, his medical data and his inbox, nothing else.
    proxy_page.goto(f"{base}/proxies/")
    held = proxy_page.locator("#held .grant")
    expect(held).to_contain_text(PRINCIPAL["name"])
    expect(held).to_contain_text("医療の情報（薬剤・健診・医療費）を見る、お知らせを読む")
    held.locator(".act-for").click()
    expect(proxy_page).to_have_url(f"{base}/proxies/")
    expect(proxy_page.locator("#acting-banner")).to_contain_text(PRINCIPAL["name"])
    expect(held).to_contain_text("代理中です")
    expect(proxy_page.locator("#invite")).to_have_count(0)  # no inviting on his behalf
    layout.check_both_languages(proxy_page, "/proxies/ acting")

    _open_acting(proxy_page, f"{base}/myinfo/")
    categories = proxy_page.locator(".category")
    expect(categories).to_have_count(len(MEDICAL_CATEGORIES))
    for category in MEDICAL_CATEGORIES:
        expect(proxy_page.locator(f"#category-{category}")).to_have_attribute("data-state", "done")
    expect(proxy_page.locator("#category-pension")).to_have_count(0)

    _open_acting(proxy_page, f"{base}/myinfo/medical_drugs/")
    expect(proxy_page.locator("h1")).to_have_text("薬剤情報")
    data = proxy_page.locator("#data")
    for medicine in HIS_ONLY_MEDICINES:
        expect(data).to_contain_text(medicine)
    layout.check(proxy_page, "/myinfo/medical_drugs/ acting")  # once: each view is a release he reads

    for refused in ("/myinfo/pension/", "/history/"):
        _open_acting(proxy_page, f"{base}{refused}", status=403)
        error = proxy_page.locator("#error")
        expect(error).to_have_attribute("data-code", "out_of_scope")
        expect(error).to_contain_text("代理人として、この情報を見ることは認められていません。")
        expect(proxy_page.locator("#data")).to_have_count(0)
        expect(proxy_page.locator("#history-records")).to_have_count(0)
    layout.check(proxy_page, "/history/ refused while acting")

    # His inbox (empty in this run), not hers, under the banner.
    _open_acting(proxy_page, f"{base}/notices/")
    expect(proxy_page.locator("h1")).to_have_text("お知らせ")
    expect(proxy_page.locator("#no-notices")).to_have_text("お知らせはまだありません。")

    # 5. His history names her and what she read; then he ends the proxy.
    page.goto(f"{base}/history/")
    # A proxy's reads alert the principal unless he turned that off; he sees the alert on his first visit.
    expect(page.locator("#alerts")).to_contain_text(f"{PROXY['name']} があなたの情報を利用しました")
    records = page.locator("#history-records")
    proxy_reads = records.locator(".history__item--proxy")
    expect(proxy_reads.filter(has_text="薬剤情報")).to_contain_text(
        f"代理人の{PROXY['name']}さんが、わたしの情報の表示のため、あなたの薬剤情報を画面に表示しました。"
    )
    # His inbox was empty, so her opening it released nothing; a refused page released nothing either.
    expect(proxy_reads.filter(has_text="お知らせの表示")).to_have_count(0)
    expect(proxy_reads.filter(has_text="年金")).to_have_count(0)
    expect(proxy_reads.filter(has_text="アクセス記録")).to_have_count(0)

    page.goto(f"{base}/proxies/")
    page.locator("#given .grant .end-grant").click()
    expect(page.locator(".messages")).to_contain_text("代理を終了しました")
    expect(page.locator("#no-proxies")).to_be_visible()

    # Her next page load is her own again: no banner, and her medicines, none of his.
    proxy_page.goto(f"{base}/proxies/")
    expect(proxy_page.locator("h1")).to_have_text("代理人")
    expect(proxy_page.locator("#acting-banner")).to_have_count(0)
    expect(proxy_page.locator("#held")).to_have_count(0)
    proxy_page.goto(f"{base}/myinfo/medical_drugs/")
    expect(proxy_page.locator("#acting-banner")).to_have_count(0)
    own = proxy_page.locator("#data")
    expect(own).to_contain_text("ゾルピデム")  # hers in the simulator's story
    for medicine in HIS_ONLY_MEDICINES:
        expect(own).not_to_contain_text(medicine)
    layout.assert_fit()
