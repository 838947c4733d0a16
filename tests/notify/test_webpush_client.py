"""The push client reuses what may be reused (the signed VAPID token for a push service, the connection to
it) and nothing else: every message is still encrypted on its own."""

import time

import pytest
from django.conf import settings

from portal.notify import services, webpush
from portal.notify.vapid import vapid_public_key
from tests.notify.test_push_delivery import NOTICE_PAYLOAD, subscribe, verify_vapid

pytestmark = pytest.mark.django_db

AUDIENCE = "https://push.example.net"


def test_the_vapid_token_for_a_push_service_is_reused_until_an_hour_before_it_expires():
    start = 1_900_000_000
    first = webpush.vapid_authorization(audience=AUDIENCE, now=start)
    claims = verify_vapid(first, public_key=vapid_public_key())
    assert claims["aud"] == AUDIENCE and claims["exp"] == start + webpush.VAPID_TOKEN_SECONDS

    last_reuse = claims["exp"] - webpush.VAPID_RENEW_SECONDS - 1
    assert webpush.vapid_authorization(audience=AUDIENCE, now=last_reuse) == first
    assert claims["exp"] - last_reuse > 60 * 60  # still an hour from expiring when last sent

    renewed = webpush.vapid_authorization(audience=AUDIENCE, now=last_reuse + 1)
    assert renewed != first
    assert verify_vapid(renewed, public_key=vapid_public_key())["exp"] == (
        last_reuse + 1 + webpush.VAPID_TOKEN_SECONDS
    )


def test_each_push_service_gets_a_token_for_its_own_origin():
    now = time.time()
    other = "https://updates.push.example.org"
    mine = verify_vapid(
        webpush.vapid_authorization(audience=AUDIENCE, now=now), public_key=vapid_public_key()
    )
    theirs = verify_vapid(webpush.vapid_authorization(audience=other, now=now), public_key=vapid_public_key())
    assert (mine["aud"], theirs["aud"]) == (AUDIENCE, other)


def test_a_new_vapid_key_gets_a_new_token(settings, tmp_path):
    before = webpush.vapid_authorization(audience=AUDIENCE)
    settings.VAPID_PRIVATE_KEY_FILE = str(tmp_path / "rotated.pem")
    after = webpush.vapid_authorization(audience=AUDIENCE)
    assert after != before
    verify_vapid(after, public_key=vapid_public_key())  # signed with the new key, which k names


def test_messages_to_a_push_service_share_a_token_and_a_connection_but_not_their_encryption(
    resident, make_subscriber, push_service, eager, django_capture_on_commit_callbacks
):
    phone, laptop = make_subscriber("phone"), make_subscriber("laptop")
    subscribe(resident, phone)
    subscribe(resident, laptop)
    with django_capture_on_commit_callbacks(execute=True):
        services.notify_resident(resident=resident, kind="notice", category="welfare", url="/notices/")
    with django_capture_on_commit_callbacks(execute=True):
        services.notify_resident(resident=resident, kind="notice", category="welfare", url="/notices/")

    requests = push_service.requests
    assert len(requests) == 4
    (authorization,) = {r.headers["authorization"] for r in requests}
    claims = verify_vapid(authorization, public_key=vapid_public_key())
    assert claims["aud"] == push_service.origin and claims["exp"] > time.time() + webpush.VAPID_RENEW_SECONDS
    assert claims["sub"] == settings.VAPID_SUBJECT
    assert len({r.client_port for r in requests}) == 1  # one kept-alive connection
    # A fresh key and salt for every message: no two bodies alike, each readable by its own device only.
    assert len({r.body[:16] for r in requests}) == len({r.body for r in requests}) == 4
    by_device = {"/push/phone": phone, "/push/laptop": laptop}
    assert all(by_device[r.path].decrypt(r.body) == NOTICE_PAYLOAD for r in requests)
