"""Web Push end to end against a local push service: RFC 8291 encryption the subscriber can decrypt,
a VAPID header that verifies, and the push service's answers (gone, busy, refused) handled."""

import json
import time

import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from django.conf import settings

from portal.notify import services
from portal.notify.models import Delivery, DeliveryStatus, PushSubscription
from portal.notify.tasks import send_delivery
from portal.notify.vapid import vapid_public_key
from tests.notify.conftest import b64url, b64url_decode

pytestmark = pytest.mark.django_db

NOTICE_PAYLOAD = {"title": "マイナポータル", "body": "新しいお知らせがあります", "url": "/notices/"}


def subscribe(resident, subscriber, *, language: str = "ja") -> PushSubscription:
    parsed = services.subscription_parse(json.dumps(subscriber.subscription_json()).encode())
    return services.push_subscription_save(
        resident=resident,
        subscription=parsed,
        user_agent="Mozilla/5.0 (Linux; Android 14) Chrome/130.0",
        language=language,
    )


def notify(resident, capture, **overrides):
    arguments = {"kind": "notice", "category": "welfare", "url": "/notices/", **overrides}
    with capture(execute=True):
        return services.notify_resident(resident=resident, **arguments)


def verify_vapid(authorization: str, *, public_key: str) -> dict:
    """Checks `vapid t=<JWT>,k=<key>` (RFC 8292): the ES256 JWT verifies with k; returns its claims."""
    scheme, _, parameters = authorization.partition(" ")
    assert scheme == "vapid"
    parts = dict(item.split("=", 1) for item in parameters.split(","))
    header_b64, claims_b64, signature_b64 = parts["t"].split(".")
    assert json.loads(b64url_decode(header_b64)) == {"typ": "JWT", "alg": "ES256"}
    signature = b64url_decode(signature_b64)
    assert len(signature) == 64
    der = encode_dss_signature(int.from_bytes(signature[:32], "big"), int.from_bytes(signature[32:], "big"))
    key = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), b64url_decode(public_key))
    key.verify(der, f"{header_b64}.{claims_b64}".encode(), ec.ECDSA(hashes.SHA256()))
    assert parts["k"] == public_key
    return json.loads(b64url_decode(claims_b64))


def test_push_is_encrypted_for_the_subscriber_and_says_only_that_something_arrived(
    resident, make_subscriber, push_service, eager, django_capture_on_commit_callbacks
):
    subscriber = make_subscriber()
    subscription = subscribe(resident, subscriber)

    (delivery,) = notify(resident, django_capture_on_commit_callbacks)

    (request,) = push_service.requests
    assert request.path == "/push/device-1"
    assert request.headers["content-encoding"] == "aes128gcm"
    assert request.headers["ttl"] == str(settings.WEBPUSH_TTL_SECONDS)
    assert (request.headers["urgency"], request.headers["topic"]) == ("normal", "notice")
    assert subscriber.decrypt(request.body) == NOTICE_PAYLOAD
    # The payload is encrypted: not even the fixed text is readable on the wire.
    for text in (resident.name, resident.my_number, "新しいお知らせ", "/notices/"):
        assert text.encode() not in request.body
    delivery.refresh_from_db()
    subscription.refresh_from_db()
    assert (delivery.status, delivery.attempts, delivery.error_code) == (DeliveryStatus.SENT, 1, "")
    assert subscription.last_success_at is not None and subscription.failure_count == 0


def test_another_subscribers_keys_cannot_decrypt_it(
    resident, make_subscriber, push_service, eager, django_capture_on_commit_callbacks
):
    subscriber = make_subscriber()
    subscribe(resident, subscriber)
    notify(resident, django_capture_on_commit_callbacks)
    stranger = make_subscriber("someone-else")
    with pytest.raises(Exception):  # noqa: B017 -- http_ece raises InvalidTag from cryptography
        stranger.decrypt(push_service.requests[0].body)


def test_vapid_header_verifies_with_the_portals_public_key(
    resident, make_subscriber, push_service, eager, django_capture_on_commit_callbacks
):
    subscribe(resident, make_subscriber())
    notify(resident, django_capture_on_commit_callbacks)

    authorization = push_service.requests[0].headers["authorization"]
    claims = verify_vapid(authorization, public_key=vapid_public_key())

    assert claims["aud"] == push_service.origin
    assert claims["sub"] == settings.VAPID_SUBJECT and claims["sub"].startswith("mailto:")
    assert time.time() < claims["exp"] <= time.time() + 24 * 3600
    other = ec.generate_private_key(ec.SECP256R1()).public_key()
    other_key = b64url(other.public_bytes(Encoding.X962, PublicFormat.UncompressedPoint))
    with pytest.raises(InvalidSignature):
        verify_vapid(authorization, public_key=other_key)


def test_a_resident_who_uses_english_gets_english(
    resident, make_subscriber, push_service, eager, django_capture_on_commit_callbacks
):
    subscriber = make_subscriber()
    subscribe(resident, subscriber, language="en")
    notify(resident, django_capture_on_commit_callbacks, kind="reminder", url="/notices/12/")
    assert subscriber.decrypt(push_service.requests[0].body) == {
        "title": "Myna Portal",
        "body": "A notice is nearing its deadline",
        "url": "/notices/12/",
    }


@pytest.mark.parametrize("status", [404, 410])
def test_a_gone_subscription_is_removed(
    status, resident, make_subscriber, push_service, eager, django_capture_on_commit_callbacks
):
    subscribe(resident, make_subscriber())
    push_service.answer("device-1", status)

    (delivery,) = notify(resident, django_capture_on_commit_callbacks)

    assert len(push_service.requests) == 1  # not retried
    assert not PushSubscription.objects.filter(resident=resident).exists()
    delivery.refresh_from_db()
    assert (delivery.status, delivery.error_code) == (DeliveryStatus.GONE, f"http_{status}")
    # The next notice has nowhere to go and sends nothing.
    assert notify(resident, django_capture_on_commit_callbacks) == []
    assert len(push_service.requests) == 1


def test_a_busy_push_service_is_tried_again(
    resident, make_subscriber, push_service, eager, django_capture_on_commit_callbacks
):
    subscriber = make_subscriber()
    subscribe(resident, subscriber)
    push_service.answer("device-1", 503, 429, 201)

    (delivery,) = notify(resident, django_capture_on_commit_callbacks)

    assert len(push_service.requests) == 3
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts) == (DeliveryStatus.SENT, 3)
    assert subscriber.decrypt(push_service.requests[-1].body) == NOTICE_PAYLOAD


def test_retries_run_out_into_a_visible_failed_state(
    resident, make_subscriber, push_service, eager, django_capture_on_commit_callbacks
):
    subscription = subscribe(resident, make_subscriber())
    push_service.answer("device-1", 503)

    (delivery,) = notify(resident, django_capture_on_commit_callbacks)

    assert len(push_service.requests) == 1 + send_delivery.max_retries
    delivery.refresh_from_db()
    subscription.refresh_from_db()
    assert (delivery.status, delivery.error_code) == (DeliveryStatus.FAILED, "http_503")
    assert delivery.attempts == 1 + send_delivery.max_retries
    assert subscription.failure_count == 1  # kept: the push service may come back


@pytest.mark.parametrize(("status", "code"), [(400, "http_400"), (403, "http_403"), (307, "redirect")])
def test_a_refusal_or_a_redirect_is_final(
    status, code, resident, make_subscriber, push_service, eager, django_capture_on_commit_callbacks
):
    subscription = subscribe(resident, make_subscriber())
    push_service.answer("device-1", status)

    (delivery,) = notify(resident, django_capture_on_commit_callbacks)

    assert [r.path for r in push_service.requests] == ["/push/device-1"]  # the redirect was not followed
    delivery.refresh_from_db()
    assert (delivery.status, delivery.error_code) == (DeliveryStatus.FAILED, code)
    subscription.refresh_from_db()
    assert subscription.failure_count == 1


def test_a_subscription_that_keeps_failing_is_dropped(
    resident, make_subscriber, push_service, eager, django_capture_on_commit_callbacks
):
    subscription = subscribe(resident, make_subscriber())
    PushSubscription.objects.filter(pk=subscription.pk).update(failure_count=services.MAX_PUSH_FAILURES - 1)
    push_service.answer("device-1", 400)
    notify(resident, django_capture_on_commit_callbacks)
    assert not PushSubscription.objects.filter(pk=subscription.pk).exists()


def test_a_delivery_is_sent_once_even_if_its_task_runs_twice(
    resident, make_subscriber, push_service, eager, django_capture_on_commit_callbacks
):
    subscribe(resident, make_subscriber())
    (delivery,) = notify(resident, django_capture_on_commit_callbacks)

    assert send_delivery.apply(kwargs={"delivery_id": delivery.pk}).get() == DeliveryStatus.SENT
    assert len(push_service.requests) == 1
    assert Delivery.objects.get(pk=delivery.pk).attempts == 1


def test_every_device_of_the_resident_is_told(
    resident, make_subscriber, push_service, eager, django_capture_on_commit_callbacks
):
    phone, laptop = make_subscriber("phone"), make_subscriber("laptop")
    subscribe(resident, phone)
    subscribe(resident, laptop)
    notify(resident, django_capture_on_commit_callbacks)
    by_path = {r.path: r.body for r in push_service.requests}
    assert phone.decrypt(by_path["/push/phone"]) == laptop.decrypt(by_path["/push/laptop"]) == NOTICE_PAYLOAD
