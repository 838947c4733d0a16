"""Phone first (issue 2, item 11): every resident page fits a small phone's screen, in both languages.

A 360 px wide touch screen (the narrowest common Android width), with agency data from a real worker so the
wide pages (tables of medicines, checkups and tax) have their real content, and a status report from the
municipality waiting in the inbox (the longest form a resident fills in). Each page is checked as
tests/browser/phone.py says: it loads whole, nothing makes it scroll sideways, and its controls are big
enough to tap. The pages only a flow reaches (the card app's screens, step-ups, the consent screen,
a proxy's pages) are checked on a phone by those flows' own tests.
"""

import pytest
from joserfc.jwk import ECKey
from playwright.sync_api import Page, expect

from notices.models import AgencyClient
from portal.core.categories import MEDICAL, SELF_INFORMATION
from portal.identity.models import Resident
from tests.browser.conftest import CardApp, off_playwright_thread
from tests.browser.phone import LayoutFindings
from tests.browser.test_card_login import first_login
from tests.notices.conftest import (
    AGENCY_ID,
    AUDIENCE,
    CLIENT_ID,
    AgencyAPI,
    form_action,
    notice_body,
    pdf_attachment,
    public_jwks,
    to_resident,
)

pytestmark = [pytest.mark.browser, pytest.mark.integration]

CATEGORIES = [c.code for c in (*SELF_INFORMATION, *MEDICAL) if c.code != "health_insurance"]
PAGES = (
    "/",
    "/myinfo/",
    *(f"/myinfo/{category}/" for category in CATEGORIES),
    "/myinfo/health_insurance/",  # quarantined for this resident: the message instead of the data
    "/history/",
    "/history/alerts/",
    "/notices/",
    "/account/",
    "/account/register/",
    "/proxies/",  # in English, with the invitation made in Japanese
    "/proxies/accept/",
    "/proxies/guardian/",
    "/consents/",
    "/settings/notifications/",
    "/developers/",
    "/logout/",  # the confirmation a GET shows
)


def _status_report_sent() -> str:
    """The municipality's status report (a form prefilled from the resident's data, with a PDF), sent
    through the agency API as an agency sends it; its address."""
    resident = Resident.objects.get()
    key = ECKey.generate_key("P-256", private=True)
    AgencyClient.objects.create(
        client_id=CLIENT_ID, agency_id=AGENCY_ID, name="子育て支援課", jwks=public_jwks(key, "k1", "ES256")
    )
    body = notice_body(to_resident(resident), action=form_action(), attachments=[pdf_attachment()])
    answer = AgencyAPI(key).post_notice(body)
    assert answer.status_code == 201, answer.content
    return f"/notices/{answer.json()['id']}/"


def test_resident_pages_fit_a_phone_in_both_languages_and_wider_screens(
    phone_page: Page,
    layout: LayoutFindings,
    live_server,
    portal_with_card_app: CardApp,
    agency_worker,
    settings,
):
    settings.AGENCY_API_AUDIENCES = [AUDIENCE]
    page = phone_page
    # The first page anyone sees: its QR code, waiting for the card.
    page.goto(f"{live_server.url}/login/")
    layout.check_both_languages(page, "/login/")
    first_login(page, live_server.url, portal_with_card_app, "suzuki-ichiro")
    page.goto(f"{live_server.url}/myinfo/")
    expect(page.locator('.category[data-state="fetching"]')).to_have_count(0, timeout=60_000)
    notice = off_playwright_thread(_status_report_sent)
    for language in ("ja", "en"):
        page.context.add_cookies([{"name": "django_language", "value": language, "url": live_server.url}])
        for path in (*PAGES, notice):
            answer = page.goto(f"{live_server.url}{path}")
            status = answer.status if answer else None
            assert status == 200, f"{path} ({language}): {status}"
            layout.check(page, path)
        # An invitation's code, shown once on the page the invitation form leads to.
        page.goto(f"{live_server.url}/proxies/")
        page.locator("#invite input[name=scopes]").first.check()
        page.locator("#create-invitation").click()
        expect(page.locator("#invitation-code")).to_be_visible()
        layout.check(page, "/proxies/ after an invitation")
    # Wider screens take the two-column layouts (menus, fields side by side): a tablet and a laptop.
    page.context.add_cookies([{"name": "django_language", "value": "ja", "url": live_server.url}])
    for width, height in ((768, 1024), (1280, 800)):
        page.set_viewport_size({"width": width, "height": height})
        for path in (*PAGES, notice):
            page.goto(f"{live_server.url}{path}")
            layout.check(page, f"{path} at {width} px")
    layout.assert_fit()
