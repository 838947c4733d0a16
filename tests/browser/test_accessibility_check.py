"""The axe-core check of tests/browser/phone.py itself: it reaches a page whose Content-Security-Policy is as
strict as the portal's, and names what it finds, so that a clean run of the flows means something."""

import pytest
from playwright.sync_api import Page, Route

from tests.browser.phone import accessibility_problems

pytestmark = [pytest.mark.browser]

ADDRESS = "http://portal.invalid/"
# The portal's policy, less what a page without a server needs: scripts only with a nonce this page lacks.
STRICT_CSP = "default-src 'self'; script-src 'nonce-not-this-one'; style-src 'unsafe-inline'"


def _serve(page: Page, body: str) -> None:
    def fulfil(route: Route) -> None:
        route.fulfill(
            status=200,
            headers={"Content-Type": "text/html; charset=utf-8", "Content-Security-Policy": STRICT_CSP},
            body=body,
        )

    page.route(ADDRESS, fulfil)
    page.goto(ADDRESS)


def test_axe_names_serious_violations_behind_a_strict_csp(page: Page):
    _serve(
        page,
        """<!doctype html><html><head><title>t</title></head><body><main>
        <p style="color:#bbb;background:#fff">薄すぎる文字</p>
        <ul role="status"><li>役割で list でなくなった ul の項目</li></ul>
        <input type="text">
        <script>window.inlineRan = true;</script>
        </main></body></html>""",
    )
    # The policy is in force: the page's own script is refused.
    assert page.evaluate("window.inlineRan") is None
    problems = accessibility_problems(page)
    found = {line.split()[1] for line in problems}
    # html-has-lang: no lang on <html>; label: an input without a name.
    assert {"color-contrast", "listitem", "html-has-lang", "label"} <= found, problems
    contrast = next(line for line in problems if line.startswith("axe color-contrast "))
    assert "(serious, 1x)" in contrast and contrast.endswith(": p"), contrast


def test_axe_finds_nothing_on_a_sound_page(page: Page):
    _serve(
        page,
        """<!doctype html><html lang="ja"><head><title>t</title></head><body><main>
        <h1>お知らせ</h1><div role="status"><ul><li>登録しました</li></ul></div>
        <label for="name">氏名</label><input id="name" type="text">
        </main></body></html>""",
    )
    assert accessibility_problems(page) == []
