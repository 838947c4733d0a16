"""/settings/notifications/push/: what the page's script posts. Bad input is a clear 400 and saves
nothing; CSRF is enforced; a device belongs to one resident at a time."""

import json

import pytest
from django.db import connection
from django.test import Client

from portal.notify import services
from portal.notify.models import PushSubscription
from tests.factories import ResidentFactory
from tests.notify.conftest import b64url

pytestmark = pytest.mark.django_db

URL = "/settings/notifications/push/"
CHROME_ANDROID = (
    "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 Chrome/130.0 Mobile Safari/537.36"
)


def post(client: Client, body, **extra):
    data = body if isinstance(body, bytes | str) else json.dumps(body)
    return client.post(
        URL, data=data, content_type="application/json", HTTP_ACCEPT="application/json", **extra
    )


def test_a_browser_subscribes(resident, resident_client, make_subscriber):
    subscriber = make_subscriber()
    response = post(resident_client, subscriber.subscription_json(), HTTP_USER_AGENT=CHROME_ANDROID)

    assert response.status_code == 201 and response.json() == {"status": "subscribed"}
    (saved,) = PushSubscription.objects.filter(resident=resident)
    assert (saved.endpoint, saved.p256dh, saved.user_agent) == (
        subscriber.endpoint,
        subscriber.p256dh,
        "Chrome / Android",
    )
    with connection.cursor() as cursor:  # the endpoint and auth secret are stored encrypted
        cursor.execute("SELECT endpoint, auth FROM notify_pushsubscription WHERE id = %s", [saved.pk])
        endpoint_column, auth_column = cursor.fetchone()
    assert subscriber.endpoint not in endpoint_column and endpoint_column.startswith("v1$")
    assert auth_column.startswith("v1$")


def test_the_same_browser_twice_is_one_device(resident, resident_client, make_subscriber):
    subscriber = make_subscriber()
    post(resident_client, subscriber.subscription_json())
    post(resident_client, subscriber.subscription_json())
    assert PushSubscription.objects.filter(resident=resident).count() == 1


def test_a_shared_browser_moves_to_whoever_subscribes_it_last(resident, resident_client, make_subscriber):
    subscriber = make_subscriber()
    post(resident_client, subscriber.subscription_json())
    other = ResidentFactory()
    other_client = Client()
    other_client.force_login(other.user)
    assert post(other_client, subscriber.subscription_json()).status_code == 201
    assert list(PushSubscription.objects.values_list("resident_id", flat=True)) == [other.pk]


BAD_INPUT = {
    "non-https endpoint": (
        lambda s: {**s, "endpoint": s["endpoint"].replace("https://", "http://")},
        "push_endpoint_invalid",
    ),
    "javascript endpoint": (lambda s: {**s, "endpoint": "javascript:alert(1)"}, "push_endpoint_invalid"),
    "endpoint with credentials": (
        lambda s: {**s, "endpoint": s["endpoint"].replace("https://", "https://user:pw@")},
        "push_endpoint_invalid",
    ),
    "endpoint too long": (lambda s: {**s, "endpoint": s["endpoint"] + "a" * 1100}, "push_endpoint_invalid"),
    "unknown push service": (
        lambda s: {**s, "endpoint": "https://push.attacker.example/x"},
        "push_service_unknown",
    ),
    "no endpoint": (lambda s: {"keys": s["keys"]}, "push_endpoint_invalid"),
    "no keys": (lambda s: {"endpoint": s["endpoint"]}, "push_subscription_malformed"),
    "p256dh too short": (
        lambda s: {**s, "keys": {**s["keys"], "p256dh": s["keys"]["p256dh"][:-4]}},
        "push_keys_invalid",
    ),
    "p256dh not base64url": (
        lambda s: {**s, "keys": {**s["keys"], "p256dh": "+" + s["keys"]["p256dh"][1:]}},
        "push_keys_invalid",
    ),
    "p256dh not on the curve": (
        lambda s: {**s, "keys": {**s["keys"], "p256dh": b64url(b"\x04" + b"\x01" * 64)}},
        "push_keys_invalid",
    ),
    "p256dh compressed": (
        lambda s: {**s, "keys": {**s["keys"], "p256dh": b64url(b"\x02" + b"\x01" * 64)}},
        "push_keys_invalid",
    ),
    "auth too long": (lambda s: {**s, "keys": {**s["keys"], "auth": b64url(bytes(32))}}, "push_keys_invalid"),
    "auth not a string": (lambda s: {**s, "keys": {**s["keys"], "auth": 12345}}, "push_keys_invalid"),
    "a list": (lambda s: [s], "push_subscription_malformed"),
}


@pytest.mark.parametrize("case", BAD_INPUT, ids=list(BAD_INPUT))
def test_bad_subscriptions_are_refused_and_nothing_is_saved(case, resident_client, make_subscriber):
    change, code = BAD_INPUT[case]
    response = post(resident_client, change(make_subscriber().subscription_json()))
    assert response.status_code == 400
    body = response.json()
    assert body["error"] == code and body["message"]["ja"] and body["message"]["en"]
    assert not PushSubscription.objects.exists()


def test_an_oversized_subscription_is_refused_unread(resident_client, make_subscriber):
    subscription = {**make_subscriber().subscription_json(), "padding": "x" * services.MAX_SUBSCRIPTION_BYTES}
    response = post(resident_client, subscription)
    assert response.status_code == 400 and response.json()["error"] == "push_subscription_too_large"
    assert not PushSubscription.objects.exists()


@pytest.mark.parametrize("declared", ["²", "-1", "1e3"])
def test_a_content_length_that_is_no_number_is_refused_unread(declared, resident_client, make_subscriber):
    body = json.dumps(make_subscriber().subscription_json())
    response = resident_client.post(
        URL,
        data=body,
        content_type="application/json",
        CONTENT_LENGTH=declared,
        HTTP_ACCEPT="application/json",
    )
    assert response.status_code == 400 and response.json()["error"] == "push_subscription_too_large"
    assert not PushSubscription.objects.exists()


@pytest.mark.parametrize(
    ("body", "content_type"),
    [(b"{not json", "application/json"), (b"\xff\xfe", "application/json"), (b"endpoint=x", "text/plain")],
)
def test_what_is_not_json_is_refused(body, content_type, resident_client):
    response = resident_client.post(URL, data=body, content_type=content_type, HTTP_ACCEPT="application/json")
    assert response.status_code == 400 and response.json()["error"] == "push_subscription_malformed"
    assert not PushSubscription.objects.exists()


def test_csrf_is_enforced(resident, make_subscriber):
    client = Client(enforce_csrf_checks=True)
    client.force_login(resident.user)
    subscription = make_subscriber().subscription_json()

    refused = post(client, subscription)
    assert refused.status_code == 403 and not PushSubscription.objects.exists()
    forged = post(client, subscription, HTTP_X_CSRFTOKEN="x" * 32)
    assert forged.status_code == 403 and not PushSubscription.objects.exists()

    page = client.get("/settings/notifications/").content.decode()
    token = page.split('id="push-csrf" value="', 1)[1].split('"', 1)[0]
    accepted = post(client, subscription, HTTP_X_CSRFTOKEN=token)
    assert accepted.status_code == 201 and PushSubscription.objects.count() == 1

    unsubscribe = client.delete(
        URL, data=json.dumps({"endpoint": subscription["endpoint"]}), content_type="application/json"
    )
    assert unsubscribe.status_code == 403 and PushSubscription.objects.count() == 1


def test_unsubscribing_forgets_only_ones_own_device(resident, resident_client, make_subscriber):
    mine, theirs = make_subscriber("mine"), make_subscriber("theirs")
    post(resident_client, mine.subscription_json())
    other = ResidentFactory()
    services.push_subscription_save(
        resident=other,
        subscription=services.subscription_parse(json.dumps(theirs.subscription_json()).encode()),
        user_agent="",
        language="ja",
    )

    gone = resident_client.delete(
        URL, data=json.dumps({"endpoint": theirs.endpoint}), content_type="application/json"
    )
    assert gone.json() == {"status": "unsubscribed", "removed": False}
    done = resident_client.delete(
        URL, data=json.dumps({"endpoint": mine.endpoint}), content_type="application/json"
    )
    assert done.json() == {"status": "unsubscribed", "removed": True}
    assert list(PushSubscription.objects.values_list("resident_id", flat=True)) == [other.pk]


def test_only_a_logged_in_resident_may_subscribe(client, make_subscriber):
    response = post(client, make_subscriber().subscription_json())
    assert response.status_code == 403 and not PushSubscription.objects.exists()


def test_a_resident_may_register_a_limited_number_of_devices(resident, resident_client, make_subscriber):
    for n in range(services.MAX_DEVICES):
        assert post(resident_client, make_subscriber(f"d{n}").subscription_json()).status_code == 201
    response = post(resident_client, make_subscriber("one-too-many").subscription_json())
    assert response.status_code == 400 and response.json()["error"] == "too_many_devices"
    assert PushSubscription.objects.filter(resident=resident).count() == services.MAX_DEVICES
