"""Issue 7's "in a browser, the demo family's parent acts for the child", in Chromium.

The demo single parent logs in for the first time (the user folder opens with her signature certificate)
and her household record arrives from the simulated municipality through a real worker: it lists her son,
who is under 15. On /proxies/ she presents HIS card with HIS PIN (a child's card has no signature
certificate); the card app warns that it reads the My Number and the printed facts. The portal, having found
him in her household, opens his user folder and makes her his parent (親権者) until the day before his 15th
birthday. She acts for him under a banner naming him: his categories are fetched from the simulator under
his own agency codes, she reads his vaccinations (a child's routine schedule, none of them hers), and his
access history names her as the proxy who read them. Then she switches back to her own screens.
"""

import datetime as dt
import re

import pytest
from playwright.sync_api import Page, expect

from portal.proxies.parents import fifteenth_birthday
from tests.browser.conftest import CardApp
from tests.browser.phone import LayoutFindings
from tests.browser.test_card_login import _approve, _open_card_app, first_login
from tests.conftest import PEOPLE

pytestmark = [pytest.mark.browser, pytest.mark.integration]

PARENT_ID = "sato-misaki"
CHILD_ID = "sato-haruto"
PARENT = PEOPLE[PARENT_ID]
CHILD = PEOPLE[CHILD_ID]
FETCH_TIMEOUT_MS = 60_000
SIGNED_TIMEOUT_MS = 15_000
# Vaccines of a child's routine schedule (麻しん・風しん 1期 at one year, 日本脳炎 from three): the simulator
# gives an adult born in 1990 none of them.
CHILD_VACCINES = ("ミールビック", "ジェービックV")
CARD_FACTS_WARNING = (
    "マイナンバー（個人番号）と、氏名・生年月日・性別・住所をカードから読み取り、送信します。"
)


def _wait_until_nothing_fetching(page: Page) -> None:
    """The overview polls the states and reloads itself once none is fetching."""
    expect(page.locator('.category[data-state="fetching"]')).to_have_count(0, timeout=FETCH_TIMEOUT_MS)
    expect(page.locator("#categories")).to_have_attribute("data-fetching", "0")


def _expect_acting_for_child(page: Page) -> None:
    expect(page.locator("#acting-banner")).to_contain_text(f"{CHILD['name']}さんの代理人として操作しています")


def test_parent_acts_for_her_child_with_the_childs_card(
    agency_worker,
    live_server,
    portal_with_card_app: CardApp,
    phone_page: Page,
    layout: LayoutFindings,
):
    card_app = portal_with_card_app
    base = live_server.url
    page = phone_page  # a parent on her phone

    # 1. She logs in; the login starts the fetches; her household record lists her son.
    first_login(page, base, card_app, PARENT_ID)
    page.goto(f"{base}/myinfo/")
    _wait_until_nothing_fetching(page)
    expect(page.locator("#category-household")).to_have_attribute("data-state", "done")
    page.goto(f"{base}/myinfo/household/")
    expect(page.locator("h1")).to_have_text("世帯")
    expect(page.locator("#data")).to_contain_text(CHILD["name"])

    # 2. On /proxies/ she presents HIS card with HIS PIN; the card app says what it reads from the card.
    page.goto(f"{base}/proxies/")
    expect(page.locator("#held")).to_have_count(0)
    page.locator("#add-child").click()
    expect(page).to_have_url(re.compile(r"/proxies/children/[0-9a-f-]+/$"))
    expect(page.locator("h1")).to_have_text("お子様のカードで確認します")
    expect(page.locator(".signing__summary")).to_contain_text(f"保護者: {PARENT['name']}")
    layout.check(page, "/proxies/children/<id>/")
    card_page = _open_card_app(page, card_app)
    expect(card_page.locator("#summary-ja")).to_contain_text(f"保護者: {PARENT['name']}")
    layout.check(card_page, "card app: the child's card")
    expect(card_page.locator(".warn")).to_have_count(1)
    expect(card_page.locator(".warn")).to_contain_text(CARD_FACTS_WARNING)
    expect(card_page.locator(".warn")).to_contain_text(
        "The My Number, name, birth date, sex and address will be read from the card and sent."
    )
    expect(card_page.locator("#card option[value=sato-haruto]")).to_have_count(1)
    _approve(card_page, certificate="auth", card_id=CHILD_ID, secret=CHILD["card"]["pin"])
    expect(card_page.locator("#result")).to_have_attribute("data-status", "accepted")
    card_page.close()

    # The signing page moves on by itself: he is in her household, so she may act for him until 15.
    expect(page).to_have_url(f"{base}/proxies/", timeout=SIGNED_TIMEOUT_MS)
    expect(page.locator(".messages")).to_contain_text(f"{CHILD['name']}さんの代理ができるようになりました。")
    expect(page.locator("#held-heading")).to_have_text("あなたが代理できる方")
    held = page.locator("#held .grant")
    expect(held).to_have_count(1)
    ends_on = fifteenth_birthday(dt.date.fromisoformat(CHILD["birth_date"])) - dt.timedelta(days=1)
    expect(held.locator("p").first).to_have_text(f"{CHILD['name']}（親権者、{ends_on.isoformat()} まで）")
    expect(page.locator("#given .grant")).to_have_count(0)  # nobody acts for her

    # 3. She acts for him: the banner names him, and /myinfo/ is his.
    held.locator(".act-for").click()
    expect(page).to_have_url(f"{base}/proxies/")
    _expect_acting_for_child(page)
    expect(held).to_contain_text("代理中です")
    expect(page.locator("#child-add")).to_have_count(0)

    page.goto(f"{base}/myinfo/")
    _expect_acting_for_child(page)
    vaccination = page.locator("#category-vaccination")
    expect(vaccination).to_have_count(1)
    if page.locator(".category a").count() == 0:  # nothing fetched for him yet: fetch everything
        page.locator("#refresh-all").click()
        expect(page).to_have_url(f"{base}/myinfo/")
        _expect_acting_for_child(page)
    _wait_until_nothing_fetching(page)
    expect(vaccination).to_have_attribute("data-state", "done")
    expect(page.locator("#category-household")).to_have_attribute("data-state", "done")

    vaccination.locator("a").click()
    expect(page).to_have_url(f"{base}/myinfo/vaccination/")
    _expect_acting_for_child(page)
    expect(page.locator("h1")).to_have_text("予防接種")
    data = page.locator("#data")
    for vaccine in CHILD_VACCINES:
        expect(data).to_contain_text(vaccine)

    # His access history, which she may read (a parent has every scope), names her as his proxy.
    page.goto(f"{base}/history/")
    _expect_acting_for_child(page)
    proxy_reads = page.locator("#history-records .history__item--proxy")
    expect(proxy_reads.filter(has_text="予防接種")).to_contain_text(
        f"代理人の{PARENT['name']}さんが、わたしの情報の表示のため、あなたの予防接種を画面に表示しました。"
    )
    layout.check(page, "/history/ acting for the child")

    # 4. She switches back: her own dashboard, no banner.
    page.locator("#acting-stop").click()
    expect(page).to_have_url(f"{base}/")
    expect(page.locator("#acting-banner")).to_have_count(0)
    expect(page.locator(".messages")).to_contain_text("ご自身の画面に戻りました。")
    expect(page.locator("#greeting")).to_contain_text(PARENT["name"])
    layout.assert_fit()
