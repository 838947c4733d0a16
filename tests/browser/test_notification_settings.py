"""/settings/notifications/ in Chromium: the push control appears only with JavaScript, the service worker
is registered for the whole portal, and a push delivered to it (DevTools' deliverPushMessage, as a push
service would) becomes a notification that says only that something arrived."""

import json

import pytest
from django.test import Client
from playwright.sync_api import BrowserContext, Page, expect

from tests.factories import ResidentFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def session_cookie(live_server) -> dict:
    """A logged-in resident's session. Made before the browser starts: no ORM call may run beside
    Playwright's event loop (tests/browser/conftest.py)."""
    client = Client()
    client.force_login(ResidentFactory().user)
    return {"name": "sessionid", "value": client.cookies["sessionid"].value, "url": live_server.url}


def test_without_javascript_the_page_says_the_control_needs_it(session_cookie, browser, live_server):
    context = browser.new_context(locale="ja-JP", java_script_enabled=False)
    context.add_cookies([session_cookie])
    page = context.new_page()
    page.goto(f"{live_server.url}/settings/notifications/")
    expect(page.locator("#push-nojs")).to_be_visible()
    expect(page.locator("#push-control")).to_be_hidden()
    expect(page.locator("#preferences button[type=submit]")).to_be_visible()
    context.close()


def test_the_service_worker_shows_a_push_as_a_notification(
    session_cookie, context: BrowserContext, page: Page, live_server
):
    context.add_cookies([session_cookie])
    context.grant_permissions(["notifications"], origin=live_server.url)
    page.goto(f"{live_server.url}/settings/notifications/")

    expect(page.locator("#push-nojs")).to_be_hidden()
    expect(page.locator("#push-control")).to_be_visible()
    expect(page.locator("#push-status")).to_have_text("この端末(ブラウザ)では通知を受け取っていません。")
    expect(page.locator("#push-subscribe")).to_be_visible()
    expect(page.locator("#push-unsubscribe")).to_be_hidden()
    scope = page.evaluate("navigator.serviceWorker.ready.then(r => r.scope)")
    assert scope == f"{live_server.url}/"

    # DevTools names the registration; a push service would address the same registration.
    cdp = context.new_cdp_session(page)
    registrations: list[dict] = []
    cdp.on(
        "ServiceWorker.workerRegistrationUpdated", lambda event: registrations.extend(event["registrations"])
    )
    cdp.send("ServiceWorker.enable")
    for _ in range(100):
        if any(r["scopeURL"] == scope for r in registrations):
            break
        page.wait_for_timeout(50)  # lets Playwright dispatch the DevTools events
    registration_id = next(r["registrationId"] for r in registrations if r["scopeURL"] == scope)
    payload = {"title": "マイナポータル", "body": "新しいお知らせがあります", "url": "/notices/"}
    cdp.send(
        "ServiceWorker.deliverPushMessage",
        {
            "origin": live_server.url,
            "registrationId": registration_id,
            "data": json.dumps(payload, ensure_ascii=False),
        },
    )
    shown = page.wait_for_function(
        """() => navigator.serviceWorker.ready.then(r => r.getNotifications()).then(list =>
               list.length ? list.map(n => ({title: n.title, body: n.body, url: n.data.url})) : null)"""
    ).json_value()
    assert shown == [payload]


def test_a_push_service_that_never_answers_ends_in_a_clear_message(
    session_cookie, context: BrowserContext, page: Page, live_server
):
    # A browser whose push service cannot be reached: subscribe() never settles.
    context.add_init_script(
        "if (window.PushManager) {"
        " PushManager.prototype.subscribe = function () { return new Promise(function () {}); }; }"
    )
    context.add_cookies([session_cookie])
    context.grant_permissions(["notifications"], origin=live_server.url)
    page.goto(f"{live_server.url}/settings/notifications/")
    page.locator("#push-subscribe").click()
    expect(page.locator("#push-status")).to_have_text(
        "登録できませんでした。もう一度お試しください。", timeout=30_000
    )
    expect(page.locator("#push-subscribe")).to_be_enabled()
