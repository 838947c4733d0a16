"""Issue 5's "done when", from the push: the demo single parent gets the status report as a push, answers it
in a few taps, and the simulated agency receives the signed response.

佐藤 美咲 logs in with her card (first login: her user folder), her information arrives through the real
worker, and she turns on pushes for this browser on /settings/notifications/. The simulated child support
division sends her the status report (児童扶養手当の現況届) through the real agency API. The portal's real
worker tells her through Web Push: the message is encrypted to her browser's keys, signed with the portal's
VAPID key and posted to her browser's push service. The push service hands it to the browser, the service
worker shows it on the desktop, she taps it, the service worker opens the notice, and she answers it there
with one tick and one signature in the card app; the agency's webhook receives the signed answer.

What stands in for what a phone or desktop would have, and why:

- The push service. Chromium's own (FCM) cannot be reached here, and Chromium cannot subscribe without it:
  in a Playwright context (incognito) ``pushManager.subscribe`` is refused ("Registration failed -
  permission denied"), and in a real profile it waits for Google's servers forever. So this browser's
  PushManager hands the page a subscription of a local push service instead (``PUSH_SUBSCRIPTION_SCRIPT``),
  with keys the test holds, and nothing else changes: the page's script and the portal's view register it
  as they would register FCM's, the worker posts the real encrypted message to it, and the test decrypts it
  (http_ece, with the subscriber's private key), verifies its VAPID header, and hands the plaintext to the
  service worker through DevTools' ``ServiceWorker.deliverPushMessage``, as Chromium does with what FCM
  brings it.
- The desktop. A tap must come from the browser: Chromium lets a service worker open a window only while
  it handles a notificationclick the browser dispatched (a ``NotificationEvent`` made in script gets "Not
  allowed to open a window."). On Linux, Chromium shows notifications through the desktop's notification
  server (org.freedesktop.Notifications over the D-Bus session bus), so the test runs a private session bus
  and a minimal notification server (``NOTIFICATION_SERVER``, Debian's python3-dbus), which records what is
  shown and, for the tap, sends the ``ActionInvoked(id, "default")`` signal a desktop sends when a
  notification is clicked. The click on a notification of a Playwright (incognito) context does not reach
  that context's service worker (the desktop is told to close it, nothing opens), so this test runs
  Chromium with a profile of its own.
"""

import json
import os
import re
import shutil
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from playwright.sync_api import BrowserContext, CDPSession, Page, expect, sync_playwright

from bench.push_service import vapid_verified
from tests.browser.conftest import CHROMIUM, EXPECT_TIMEOUT_MS, CardApp, off_playwright_thread
from tests.browser.test_card_login import _approve, _open_card_app
from tests.browser.test_status_report import (  # noqa: F401 -- sender_registered is a fixture
    PERSON,
    PERSON_ID,
    Interactions,
    _received,
    _simulator_cli,
    sender_registered,
    sign_and_await_receipt,
)
from tests.integration.conftest import AgencySimulator, wait_until
from tests.notify.conftest import (  # noqa: F401 -- push_service and push_tls are fixtures
    PushService,
    Subscriber,
    push_service,
    push_tls,
)

pytestmark = [pytest.mark.browser, pytest.mark.integration]

SYSTEM_PYTHON = "/usr/bin/python3"  # Debian's, with python3-dbus and python3-gi
STATUS_REPORT_TITLE = "児童扶養手当の現況届"
PUSH_SECONDS = 30  # from the agency's request to the push service: the worker's announce and send tasks
# In the portal: the notification, the tick, the submit button and the link that opens the card app.
TAPS_FROM_NOTIFICATION = 4

# A session bus of the test's own: no service is ever started on demand (no accessibility bus, no dconf).
DBUS_CONFIG = """<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>session</type>
  <listen>unix:tmpdir=/tmp</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <allow own="*"/>
  </policy>
</busconfig>
"""

# The desktop's notification server (Desktop Notifications Specification 1.2), as far as Chromium uses it.
# Reports on stdout, one JSON object a line; a line "<id> <action>" on stdin invokes that action of that
# notification (a click is the action "default"), as the user would; end of stdin stops it.
NOTIFICATION_SERVER = r"""
import json, sys
import dbus, dbus.service, dbus.mainloop.glib
from gi.repository import GLib

NAME = "org.freedesktop.Notifications"
dbus.mainloop.glib.DBusGMainLoop(set_as_default=True)


def report(**event):
    print(json.dumps(event, ensure_ascii=False), flush=True)


class Server(dbus.service.Object):
    def __init__(self, bus):
        super().__init__(bus, "/org/freedesktop/Notifications")
        self.last_id = 0

    @dbus.service.method(NAME, in_signature="", out_signature="as")
    def GetCapabilities(self):
        return ["actions", "body"]

    @dbus.service.method(NAME, in_signature="", out_signature="ssss")
    def GetServerInformation(self):
        return ("portal-test-desktop", "portal", "1.0", "1.2")

    @dbus.service.method(NAME, in_signature="susssasa{sv}i", out_signature="u")
    def Notify(self, app_name, replaces_id, app_icon, summary, body, actions, hints, expire_timeout):
        if replaces_id:
            notification_id = int(replaces_id)
        else:
            self.last_id += 1
            notification_id = self.last_id
        report(event="notify", id=notification_id, app_name=str(app_name), summary=str(summary),
               body=str(body), actions=[str(a) for a in actions])
        return dbus.UInt32(notification_id)

    @dbus.service.method(NAME, in_signature="u", out_signature="")
    def CloseNotification(self, notification_id):
        report(event="close", id=int(notification_id))
        self.NotificationClosed(notification_id, dbus.UInt32(3))

    @dbus.service.signal(NAME, signature="uu")
    def NotificationClosed(self, notification_id, reason):
        pass

    @dbus.service.signal(NAME, signature="us")
    def ActionInvoked(self, notification_id, action_key):
        pass


bus = dbus.SessionBus()
owned = dbus.service.BusName(NAME, bus, do_not_queue=True)
server = Server(bus)
loop = GLib.MainLoop()


def command(source, condition):
    line = sys.stdin.readline()
    if not line:
        loop.quit()
        return False
    notification_id, action = line.split()
    server.ActionInvoked(dbus.UInt32(int(notification_id)), action)
    report(event="invoked", id=int(notification_id), action=action)
    return True


GLib.io_add_watch(sys.stdin, GLib.IO_IN | GLib.IO_HUP, command)
report(event="ready")
loop.run()
"""

# This browser's push service is a local one (see the module's docstring): PushManager hands out its
# subscription, with the test subscriber's endpoint and keys, where Chromium would register with FCM.
# It asks what Chromium asks (permission granted, userVisibleOnly, an application server key), keeps the
# subscription for the origin, and records the key it was made with (a push service binds the two).
PUSH_SUBSCRIPTION_SCRIPT = """
(() => {
  if (typeof PushManager === "undefined" || typeof localStorage === "undefined") return;
  const service = %s;
  const STORED = "__test_push_subscription";
  const b64url = (buffer) => btoa(String.fromCharCode(...new Uint8Array(buffer)))
    .replace(/\\+/g, "-").replace(/\\//g, "_").replace(/=+$/, "");
  const bytes = (text) => Uint8Array.from(
    atob(text.replace(/-/g, "+").replace(/_/g, "/") + "===".slice((text.length + 3) %% 4)),
    (c) => c.charCodeAt(0));
  const subscription = (applicationServerKey) => ({
    endpoint: service.endpoint,
    expirationTime: null,
    options: { userVisibleOnly: true, applicationServerKey: bytes(applicationServerKey).buffer },
    getKey: (name) => name in service.keys ? bytes(service.keys[name]).buffer : null,
    toJSON: () => ({ endpoint: service.endpoint, expirationTime: null, keys: { ...service.keys } }),
    unsubscribe: () => { localStorage.removeItem(STORED); return Promise.resolve(true); },
  });
  PushManager.prototype.subscribe = function (options) {
    if (Notification.permission !== "granted") {
      return Promise.reject(new DOMException("Registration failed - permission denied", "NotAllowedError"));
    }
    const key = options && options.applicationServerKey;
    if (!options || options.userVisibleOnly !== true || !key) {
      return Promise.reject(new DOMException("Registration failed - missing sender id", "AbortError"));
    }
    const applicationServerKey = typeof key === "string" ? key : b64url(key.buffer || key);
    localStorage.setItem(STORED, applicationServerKey);
    return Promise.resolve(subscription(applicationServerKey));
  };
  PushManager.prototype.getSubscription = function () {
    const applicationServerKey = localStorage.getItem(STORED);
    return Promise.resolve(applicationServerKey ? subscription(applicationServerKey) : null);
  };
})();
"""


@dataclass
class Desktop:
    """The desktop's notification server on a private session bus, and what it was asked to show."""

    bus_address: str
    server: subprocess.Popen
    events: list[dict] = field(default_factory=list)

    def shown(self) -> list[dict]:
        return [event for event in self.events if event["event"] == "notify"]

    def closed(self, notification_id: int) -> bool:
        return any(e["event"] == "close" and e["id"] == notification_id for e in self.events)

    def click(self, notification_id: int) -> None:
        """What the desktop tells the browser when the user clicks the notification."""
        self.server.stdin.write(f"{notification_id} default\n")
        self.server.stdin.flush()


def _stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.fixture
def desktop(tmp_path) -> Iterator[Desktop]:
    missing = [tool for tool in ("dbus-daemon", SYSTEM_PYTHON) if not shutil.which(tool)]
    if missing:
        pytest.fail(
            f"the desktop notifications of this test need {', '.join(missing)} (apt: dbus, python3-dbus)"
        )
    config = tmp_path / "session-bus.conf"
    config.write_text(DBUS_CONFIG)
    bus = subprocess.Popen(
        ["dbus-daemon", f"--config-file={config}", "--nofork", "--print-address=1"],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        address = bus.stdout.readline().strip()
        assert address.startswith("unix:"), f"dbus-daemon gave no address (exit {bus.poll()})"
        server = subprocess.Popen(
            [SYSTEM_PYTHON, "-c", NOTIFICATION_SERVER],
            env={**os.environ, "DBUS_SESSION_BUS_ADDRESS": address},
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        desktop = Desktop(bus_address=address, server=server)
        threading.Thread(
            target=lambda: desktop.events.extend(json.loads(line) for line in server.stdout),
            daemon=True,
        ).start()
        try:
            wait_until(
                lambda: any(e["event"] == "ready" for e in desktop.events) or server.poll() is not None,
                timeout=30,
                what="the notification server",
            )
            assert server.poll() is None, f"the notification server exited with {server.returncode}"
            yield desktop
        finally:
            server.stdin.close()  # its end of input: it stops
            _stop(server)
    finally:
        _stop(bus)


@pytest.fixture
def context(desktop: Desktop, tmp_path) -> Iterator[BrowserContext]:
    """Chromium with a profile of its own (not an incognito context), on the test's desktop, in Japanese."""
    with sync_playwright() as driver:
        context = driver.chromium.launch_persistent_context(
            tmp_path / "profile",
            executable_path=CHROMIUM,
            headless=True,
            # Playwright's locale reaches the requests of the pages it drives, not those of a window the
            # service worker opens: the browser's own languages are Japanese too.
            locale="ja-JP",
            args=["--accept-lang=ja-JP,ja"],
            env={**os.environ, "DBUS_SESSION_BUS_ADDRESS": desktop.bus_address},
        )
        context.set_default_timeout(EXPECT_TIMEOUT_MS)
        expect.set_options(timeout=EXPECT_TIMEOUT_MS)
        yield context
        context.close()


@pytest.fixture
def page(context: BrowserContext) -> Page:
    return context.pages[0] if context.pages else context.new_page()


@pytest.fixture
def subscriber(push_service: PushService) -> Subscriber:  # noqa: F811
    return Subscriber(
        push_service.endpoint("sato-misaki-browser"), ec.generate_private_key(ec.SECP256R1()), os.urandom(16)
    )


@pytest.fixture
def worker_trusts_the_push_service(worker_environment, push_tls, monkeypatch):  # noqa: F811
    """The local push service's certificate is of the test's own CA: the worker's push client trusts it."""
    monkeypatch.setitem(worker_environment, "WEBPUSH_CA_BUNDLE", str(push_tls.ca_file))


@pytest.fixture
def agency_worker(worker_trusts_the_push_service, agency_worker):
    """The browser tests' worker (fetch and default queues), started once the CA is in its environment."""
    return agency_worker


def _push_records() -> dict:
    """What the portal stored of the subscription and of the push it sent, and the notice it named."""
    from notices.models import Notice
    from portal.notify.models import Channel, Delivery, PushSubscription

    (subscription,) = PushSubscription.objects.all()
    (delivery,) = Delivery.objects.filter(channel=Channel.PUSH)
    notice = Notice.objects.get(recipient_id=delivery.resident_id)
    return {
        "subscription_resident": subscription.resident_id,
        "subscription_endpoint": subscription.endpoint,
        "delivery_resident": delivery.resident_id,
        "delivery_subscription": delivery.subscription_id == subscription.pk,
        "kind": delivery.kind,
        "status": delivery.status,
        "attempts": delivery.attempts,
        "sent": delivery.sent_at is not None,
        "url": delivery.url,
        "notice_url": f"/notices/{notice.public_id}/",
        "notice_title": notice.title_ja,
        "notice_recipient": notice.recipient_id,
    }


def _service_worker_devtools(context: BrowserContext, page: Page, scope: str) -> tuple[CDPSession, str]:
    """A DevTools session with its ServiceWorker domain on, and the id of the service worker registration
    for `scope`, which a push service's message is addressed to."""
    cdp = context.new_cdp_session(page)
    registrations: list[dict] = []
    cdp.on(
        "ServiceWorker.workerRegistrationUpdated", lambda event: registrations.extend(event["registrations"])
    )
    cdp.send("ServiceWorker.enable")
    for _ in range(100):
        if any(r["scopeURL"] == scope and not r["isDeleted"] for r in registrations):
            break
        page.wait_for_timeout(50)  # lets Playwright dispatch the DevTools events
    registration_id = next(
        r["registrationId"] for r in registrations if r["scopeURL"] == scope and not r["isDeleted"]
    )
    return cdp, registration_id


def test_status_report_arrives_as_a_push_and_is_answered_from_the_notification(
    push_service: PushService,  # noqa: F811
    subscriber: Subscriber,
    sender_registered: AgencySimulator,  # noqa: F811
    agency_worker,
    live_server,
    portal_with_card_app: CardApp,
    desktop: Desktop,
    context: BrowserContext,
    page: Page,
):
    card_app = portal_with_card_app
    interactions = Interactions(context, live_server.url)
    context.add_init_script(
        PUSH_SUBSCRIPTION_SCRIPT
        % json.dumps({"endpoint": subscriber.endpoint, "keys": subscriber.subscription_json()["keys"]})
    )

    # First login: authentication, then the user folder with the signature certificate.
    page.goto(f"{live_server.url}/login/")
    card_page = _open_card_app(page, card_app)
    _approve(card_page, certificate="auth", card_id=PERSON_ID, secret=PERSON["card"]["pin"])
    card_page.close()
    expect(page).to_have_url(re.compile(r"/login/register/[0-9a-f-]+/$"))
    card_page = _open_card_app(page, card_app)
    _approve(card_page, certificate="signature", card_id=PERSON_ID, secret=PERSON["card"]["password"])
    card_page.close()
    expect(page).to_have_url(f"{live_server.url}/")

    # Her information arrives from the agencies through the worker (started by the login).
    page.goto(f"{live_server.url}/myinfo/")
    expect(page.locator('.category[data-state="fetching"]')).to_have_count(0, timeout=60_000)
    for category in ("household", "income_tax", "child_allowance"):
        expect(page.locator(f"#category-{category}")).to_have_attribute("data-state", "done")

    # She turns on pushes for this browser (allowing notifications for the portal, as the browser asks).
    context.grant_permissions(["notifications"], origin=live_server.url)
    page.goto(f"{live_server.url}/settings/notifications/")
    expect(page.locator("#push-status")).to_have_text("この端末(ブラウザ)では通知を受け取っていません。")
    page.locator("#push-subscribe").click()
    expect(page.locator("#push-status")).to_have_text("この端末(ブラウザ)で通知を受け取ります。")
    vapid_key = page.locator("#push-control").get_attribute("data-vapid-key")
    assert page.evaluate("localStorage.getItem('__test_push_subscription')") == vapid_key
    scope = page.evaluate("navigator.serviceWorker.ready.then(r => r.scope)")
    assert scope == f"{live_server.url}/"
    cdp, registration_id = _service_worker_devtools(context, page, scope)
    page.goto(f"{live_server.url}/")  # she goes on with something else
    expect(page.locator("#unread-count")).to_have_count(0)

    # The agency sends the status report through the real agency API.
    started = time.monotonic()
    sent = _simulator_cli(
        sender_registered, "send-status-report", "--portal", live_server.url, "--person", PERSON_ID
    )
    assert sent.returncode == 0, sent.stdout + sent.stderr
    assert "HTTP 201" in sent.stderr

    # The worker tells her browser's push service: one message, encrypted to this browser and VAPID-signed.
    wait_until(lambda: push_service.requests, timeout=PUSH_SECONDS, what="the portal's push")
    pushed_in = time.monotonic() - started
    (request,) = push_service.requests
    assert request.path == "/push/sato-misaki-browser"
    assert request.headers["content-encoding"] == "aes128gcm"
    assert vapid_verified(
        request.headers["authorization"],
        audience=push_service.origin,
        application_server_key=vapid_key,
        now=time.time(),
    )
    message = subscriber.decrypt(request.body)

    # What the portal recorded: her subscription (this browser's endpoint), and one push for the notice, sent.
    records = wait_until(
        lambda: (r := off_playwright_thread(_push_records))["status"] == "sent" and r,
        timeout=10,
        what="the delivery to be recorded as sent",
    )
    assert records["subscription_endpoint"] == subscriber.endpoint
    assert records["delivery_subscription"] and records["attempts"] == 1 and records["sent"]
    assert records["subscription_resident"] == records["delivery_resident"] == records["notice_recipient"]
    assert records["kind"] == "notice" and records["notice_title"].startswith(STATUS_REPORT_TITLE)
    notice_url = records["notice_url"]
    assert records["url"] == notice_url
    # It says only that something arrived, and where: nothing of the notice itself.
    assert message == {"title": "マイナポータル", "body": "新しいお知らせがあります", "url": notice_url}

    # The push service hands the message to the browser, whose service worker shows it on the desktop.
    cdp.send(
        "ServiceWorker.deliverPushMessage",
        {
            "origin": live_server.url,
            "registrationId": registration_id,
            "data": json.dumps(message, ensure_ascii=False),
        },
    )
    wait_until(desktop.shown, timeout=10, what="the notification on the desktop")
    (shown,) = desktop.shown()
    assert shown["summary"] == "マイナポータル"
    assert shown["body"].endswith("新しいお知らせがあります")
    assert STATUS_REPORT_TITLE not in shown["body"]
    assert "default" in shown["actions"]  # the whole notification can be clicked

    # She taps it: the service worker opens the notice in a new window.
    interactions.counting = True
    with context.expect_page() as opened:
        desktop.click(shown["id"])
    notice_page = opened.value
    expect(notice_page).to_have_url(f"{live_server.url}{notice_url}")
    wait_until(lambda: desktop.closed(shown["id"]), timeout=10, what="the notification to be closed")

    # Pre-filled from her own information: one tick, nothing to type.
    expect(notice_page.locator("#notice-title")).to_have_text(records["notice_title"])
    expect(notice_page.locator("#prefill-note")).to_be_visible()
    expect(notice_page.locator("#prefill-missing")).to_have_count(0)
    expect(notice_page.locator("#field-household_members")).to_contain_text("佐藤 陽翔")
    notice_page.locator("#confirmed").check()
    notice_page.locator("#submit-answer").click()

    receipt = sign_and_await_receipt(notice_page, card_app)
    interactions.counting = False
    answered_in = time.monotonic() - started

    # The simulated agency receives the signed answer at its webhook.
    (received,) = wait_until(lambda: _received(sender_registered), timeout=30, what="the webhook delivery")
    delivered_in = time.monotonic() - started
    response = received["event"]["response"]
    assert received["event"]["type"] == "notice.response"
    assert response["receipt_number"] == receipt
    assert response["signature"]["signed"] is True and response["signature"]["act_digest"]
    assert [m["name"] for m in response["answers"]["household_members"]] == ["佐藤 美咲", "佐藤 陽翔"]

    # Her taps, from the notification to the receipt: the notification, then the tick, the submit button and
    # the card app's link in the portal (no typing there); in the card app the card, the signature password
    # and approve.
    portal_taps = 1 + sum(interactions.portal.values())
    print(
        f"\nstatus report from a push: pushed {pushed_in:.1f} s after the agency sent it; "
        f"{portal_taps} taps in the portal (notification included) {dict(interactions.portal)}, "
        f"card app {dict(interactions.card_app)}; answered {answered_in:.1f} s and webhook received "
        f"{delivered_in:.1f} s after the agency sent it"
    )
    assert interactions.portal["text"] == 0 and interactions.portal["key"] == 0
    assert interactions.portal["click"] == sum(interactions.portal.values())
    assert portal_taps == TAPS_FROM_NOTIFICATION
    assert dict(interactions.card_app) == {"select": 1, "text": 1, "click": 1}
