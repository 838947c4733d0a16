"""/settings/notifications/ (labelled, usable without JavaScript, recorded before it shows the address),
the dashboard's link to it, and the service worker at /sw.js."""

import re

import pytest
from django.test import Client

from portal.history.models import ReleaseRecord
from portal.notify import services
from portal.notify.models import NotificationPreference, PushSubscription
from portal.notify.vapid import vapid_public_key
from tests.factories import ResidentFactory

pytestmark = pytest.mark.django_db

PAGE = "/settings/notifications/"


def test_the_page_works_without_javascript_and_says_the_push_control_needs_it(resident_client):
    response = resident_client.get(PAGE)
    body = response.content.decode()
    assert response.status_code == 200
    assert "プッシュ通知の登録と解除には JavaScript が必要です" in body
    assert re.search(r'<div id="push-control" class="push-control" hidden', body)
    assert f'data-vapid-key="{vapid_public_key()}"' in body
    assert '<script src="/static/js/push.js" defer></script>' in body
    assert not re.search(r"<script(?![^>]*\bsrc=)", body)  # no inline script (CSP: scripts from 'self')
    assert 'action="/settings/notifications/email/"' in body


def test_every_control_has_a_label(resident_client):
    body = resident_client.get(PAGE).content.decode()
    inputs = re.findall(r"<input\b[^>]*>", body)
    ids = [re.search(r'\bid="([^"]+)"', tag).group(1) for tag in inputs if 'type="hidden"' not in tag]
    assert len(ids) >= 7 * 2 + 3  # two checkboxes per category, the quiet hours, the address
    for input_id in ids:
        assert f'for="{input_id}"' in body, input_id
    assert body.count("<legend>") == 7


def test_saving_categories_and_quiet_hours(resident, resident_client):
    response = resident_client.post(
        PAGE,
        {
            "push_tax": "on",
            "push_release_alert": "on",
            "email_welfare": "on",
            "quiet_start": "22:00",
            "quiet_end": "07:00",
        },
    )
    assert response.status_code == 302 and response["Location"] == PAGE
    preference = NotificationPreference.objects.get(resident=resident)
    assert preference.push_categories == ["tax", "release_alert"]
    assert preference.email_categories == ["welfare"]
    assert (preference.quiet_start.isoformat(), preference.quiet_end.isoformat()) == ("22:00:00", "07:00:00")
    page = resident_client.get(PAGE).content.decode()
    assert re.search(r'name="push_tax"[^>]*checked', page) and not re.search(
        r'name="push_welfare"[^>]*checked', page
    )
    assert 'value="22:00"' in page


@pytest.mark.parametrize(
    "quiet",
    [
        {"quiet_start": "22:00"},
        {"quiet_start": "22:00", "quiet_end": "22:00"},
        {"quiet_start": "25:99", "quiet_end": "07:00"},
    ],
)
def test_bad_quiet_hours_are_explained_and_nothing_is_saved(quiet, resident, resident_client):
    response = resident_client.post(PAGE, {"push_tax": "on", **quiet})
    assert response.status_code == 400
    assert 'class="form__error"' in response.content.decode()
    assert not NotificationPreference.objects.filter(resident=resident).exists()


def test_a_bad_address_is_explained_and_nothing_is_sent(resident, resident_client):
    response = resident_client.post("/settings/notifications/email/", {"email": "not an address"})
    assert response.status_code == 400 and 'id="email-error"' in response.content.decode()
    assert not NotificationPreference.objects.filter(resident=resident).exists()


def test_showing_the_address_is_recorded_first(resident, resident_client):
    NotificationPreference.objects.create(resident=resident, email_pending="hanako@example.jp")
    body = resident_client.get(PAGE).content.decode()
    assert "hanako@example.jp" in body
    latest = ReleaseRecord.objects.filter(owner=resident).latest("seq")
    assert (latest.category, latest.items, latest.purpose) == ("contact", ["email"], "notification_settings")


def test_a_page_without_an_address_records_nothing(resident, resident_client):
    resident_client.get(PAGE)
    assert not ReleaseRecord.objects.filter(owner=resident).exists()


def test_devices_are_listed_and_removed_without_javascript(resident, resident_client, make_subscriber):
    import json

    def save(owner, name):
        parsed = services.subscription_parse(json.dumps(make_subscriber(name).subscription_json()).encode())
        return services.push_subscription_save(
            resident=owner, subscription=parsed, user_agent="Firefox/133.0 (Windows)", language="ja"
        )

    mine = save(resident, "mine")
    theirs = save(ResidentFactory(), "theirs")
    body = resident_client.get(PAGE).content.decode()
    assert "Firefox / Windows" in body and f'action="/settings/notifications/push/{mine.pk}/delete/"' in body
    assert f"/push/{theirs.pk}/delete/" not in body

    assert resident_client.post(f"/settings/notifications/push/{theirs.pk}/delete/").status_code == 302
    assert PushSubscription.objects.filter(pk=theirs.pk).exists()
    resident_client.post(f"/settings/notifications/push/{mine.pk}/delete/")
    assert not PushSubscription.objects.filter(pk=mine.pk).exists()


def test_the_page_needs_a_login(client):
    response = client.get(PAGE)
    assert response.status_code == 302 and response["Location"].startswith("/login/")


def test_the_dashboard_links_to_it(resident_client):
    body = resident_client.get("/").content.decode()
    assert f'href="{PAGE}"' in body


def test_the_service_worker_is_served_from_the_root():
    response = Client().get("/sw.js")
    assert response.status_code == 200
    assert response["Content-Type"] == "text/javascript; charset=utf-8"
    assert response["Service-Worker-Allowed"] == "/"
    assert "no-cache" in response["Cache-Control"]
    source = response.content.decode()
    assert 'addEventListener("push"' in source and "showNotification" in source
    assert 'addEventListener("notificationclick"' in source and "openWindow" in source
