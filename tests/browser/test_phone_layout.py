"""Phone first (issue 2, item 11): every resident page fits a small phone's screen, in both languages.

A 360 px wide touch screen (the narrowest common Android width), with agency data from a real worker so the
wide pages (tables of medicines, checkups and tax) have their real content, and a status report from the
municipality waiting in the inbox (the longest form a resident fills in). On each page:

- everything the page asks for loads (no style sheet, script or icon answered with an error);
- nothing makes the page itself scroll sideways: a wide table scrolls inside its own box;
- every visible link, button and form control is at least 24 by 24 CSS pixels, or far enough from the
  others, as WCAG 2.2's target size criterion (2.5.8) asks, with its exception for links in a sentence.
"""

from pathlib import Path

import pytest
from joserfc.jwk import ECKey
from playwright.sync_api import Browser, Page, expect

from notices.models import AgencyClient
from portal.core.categories import MEDICAL, SELF_INFORMATION
from portal.identity.models import Resident
from tests.browser.conftest import EXPECT_TIMEOUT_MS, CardApp, off_playwright_thread
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
PHONE = {
    "viewport": {"width": 360, "height": 740},
    "is_mobile": True,
    "has_touch": True,
    "device_scale_factor": 2,
}
PAGES = (
    "/",
    "/myinfo/",
    *(f"/myinfo/{category}/" for category in CATEGORIES),
    "/myinfo/health_insurance/",  # quarantined for this resident: the message instead of the data
    "/history/",
    "/history/alerts/",
    "/notices/",
    "/account/",
    "/proxies/",
    "/consents/",
    "/settings/notifications/",
    "/developers/",
)
MIN_TARGET_PX = 24

# What sticks out sideways, and which controls are too small to tap: each described in a line.
LAYOUT_PROBLEMS = """
(minTarget) => {
  const classes = (el) => typeof el.className === "string" && el.className.trim() ?
    "." + el.className.trim().split(/\\s+/).join(".") : "";
  const name = (el) => el.tagName.toLowerCase() + (el.id ? "#" + el.id : "") + classes(el);
  const problems = [];
  const width = document.documentElement.clientWidth;
  if (document.documentElement.scrollWidth > width) {
    problems.push(`page scrolls sideways: ${document.documentElement.scrollWidth} > ${width}`);
    // Name the outermost elements that stick out (their parent fits), not everything inside them.
    const sticksOut = (el) => el.getBoundingClientRect().right > width + 1 && !clipped(el);
    const clipped = (el) => {
      for (let up = el.parentElement; up && up !== document.body; up = up.parentElement) {
        if (["auto", "scroll", "hidden"].includes(getComputedStyle(up).overflowX)) return true;
      }
      return false;
    };
    const parentSticksOut = (el) => el.parentElement !== document.body && sticksOut(el.parentElement);
    const all = [...document.body.querySelectorAll("*")];
    const outermost = all.filter((el) => sticksOut(el) && !parentSticksOut(el));
    for (const el of outermost.slice(0, 5)) {
      problems.push(`  sticks out: ${name(el)} right=${Math.round(el.getBoundingClientRect().right)}`);
    }
  }
  // WCAG 2.5.8's exceptions: a link inside a sentence; an undersized target whose 24 px circle (centred
  // on it) meets no other target and no other undersized target's circle. A control's label is part of it.
  const inSentence = (el) => el.tagName === "A" && el.closest("p, li, td, dd") &&
    (el.closest("p, li, td, dd").textContent.trim().length > el.textContent.trim().length + 10);
  const boxOf = (el) => {
    let box = el.getBoundingClientRect();
    for (const label of el.labels || []) {
      const other = label.getBoundingClientRect();
      box = new DOMRect(Math.min(box.left, other.left), Math.min(box.top, other.top),
        Math.max(box.right, other.right) - Math.min(box.left, other.left),
        Math.max(box.bottom, other.bottom) - Math.min(box.top, other.top));
    }
    return box;
  };
  const targets = [...document.querySelectorAll(
    "a[href], button, input:not([type=hidden]), select, textarea, summary")].filter((el) => {
    const box = el.getBoundingClientRect();
    return box.width > 0 && box.height > 0 && getComputedStyle(el).visibility !== "hidden" &&
      !el.closest(".skip-link, .visually-hidden");
  }).map((el) => ({ el, box: boxOf(el) }));
  const small = (t) => t.box.width < minTarget || t.box.height < minTarget;
  const centre = (t) => [t.box.left + t.box.width / 2, t.box.top + t.box.height / 2];
  const circleMeetsBox = ([x, y], box) => {
    const dx = Math.max(box.left - x, 0, x - box.right), dy = Math.max(box.top - y, 0, y - box.bottom);
    return dx * dx + dy * dy < (minTarget / 2) ** 2;
  };
  for (const t of targets.filter(small)) {
    if (inSentence(t.el)) continue;
    const c = centre(t);
    const crowded = targets.some((o) => o !== t && !o.el.contains(t.el) && !t.el.contains(o.el) && (
      circleMeetsBox(c, o.box) ||
      (small(o) && Math.hypot(c[0] - centre(o)[0], c[1] - centre(o)[1]) < minTarget)));
    if (crowded) {
      problems.push(`small target: ${name(t.el)} "${t.el.textContent.trim().slice(0, 30)}" ` +
        `${Math.round(t.box.width)}x${Math.round(t.box.height)}`);
    }
  }
  return problems;
}
"""


def _layout_problems(page: Page) -> list[str]:
    return page.evaluate(LAYOUT_PROBLEMS, MIN_TARGET_PX)


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


def test_resident_pages_fit_a_phone_in_both_languages(
    browser: Browser, live_server, portal_with_card_app: CardApp, agency_worker, settings, tmp_path: Path
):
    settings.AGENCY_API_AUDIENCES = [AUDIENCE]
    context = browser.new_context(locale="ja-JP", **PHONE)
    context.set_default_timeout(EXPECT_TIMEOUT_MS)
    page = context.new_page()
    failed: list[str] = []  # a style sheet, script, icon or image the browser could not load
    page.on("response", lambda r: failed.append(f"{r.status} {r.url}") if r.status >= 400 else None)
    found = {}
    try:
        page.goto(f"{live_server.url}/login/")  # the first page anyone sees, with its QR code
        if problems := _layout_problems(page):
            found["/login/ (ja)"] = problems
        first_login(page, live_server.url, portal_with_card_app, "suzuki-ichiro")
        page.goto(f"{live_server.url}/myinfo/")
        expect(page.locator('.category[data-state="fetching"]')).to_have_count(0, timeout=60_000)
        notice = off_playwright_thread(_status_report_sent)
        for language in ("ja", "en"):
            context.add_cookies([{"name": "django_language", "value": language, "url": live_server.url}])
            for path in (*PAGES, notice):
                answer = page.goto(f"{live_server.url}{path}")
                status = answer.status if answer else None
                assert status == 200, f"{path} ({language}): {status}"
                page.screenshot(path=tmp_path / f"{language}{path.replace('/', '_')}.png", full_page=True)
                if problems := _layout_problems(page):
                    found[f"{path} ({language})"] = problems
        assert not failed, failed
        assert not found, "\n".join(f"{where}:\n  " + "\n  ".join(lines) for where, lines in found.items())
    finally:
        context.close()
