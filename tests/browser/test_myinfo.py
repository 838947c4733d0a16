"""My information in a real browser: log in, watch the categories arrive from the agency simulator through
a real Celery worker, read them with charts, download JSON and PDF; the mis-linked record stays hidden."""

import json
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import CardApp
from tests.browser.test_card_login import first_login
from tests.conftest import PEOPLE

pytestmark = [pytest.mark.browser, pytest.mark.integration]

PERSON = PEOPLE["suzuki-ichiro"]


def test_categories_arrive_are_readable_and_download(
    page: Page, live_server, portal_with_card_app: CardApp, agency_worker
):
    first_login(page, live_server.url, portal_with_card_app, "suzuki-ichiro")
    page.locator("#menu-myinfo a").click()
    expect(page).to_have_url(f"{live_server.url}/myinfo/")
    # Live progress: every card leaves "fetching" and the page reloads itself with the results.
    expect(page.locator('.category[data-state="fetching"]')).to_have_count(0, timeout=60_000)
    expect(page.locator('.category[data-state="done"]')).to_have_count(11)
    quarantined = page.locator("#category-health_insurance")
    expect(quarantined).to_have_attribute("data-state", "quarantined")
    expect(quarantined).to_contain_text("機関に連絡済みです")
    expect(quarantined.locator("a")).to_have_count(0)

    page.locator("#category-medical_expenses a").click()
    expect(page.locator("figure.chart svg")).to_be_visible()
    expect(page.locator("#data table").first).to_contain_text("円")
    page.go_back()
    page.locator("#category-medical_checkups a").click()
    expect(page.locator("figure.chart").first).to_contain_text("年度別")

    page.goto(f"{live_server.url}/myinfo/health_insurance/")
    expect(page.locator("#quarantined")).to_contain_text("ご本人のものと確認できませんでした")
    assert "一朗" not in page.content()  # the other person's name is never shown

    page.goto(f"{live_server.url}/myinfo/")
    with page.expect_download() as download:
        page.get_by_role("link", name="JSONでダウンロード").click()
    document = json.loads(Path(download.value.path()).read_text(encoding="utf-8"))
    assert len(document["categories"]) == 11
    assert "health_insurance" not in {c["category"] for c in document["categories"]}
    with page.expect_download() as download:
        page.get_by_role("link", name="PDFでダウンロード").click()
    assert Path(download.value.path()).read_bytes()[:5] == b"%PDF-"
