"""E-mail through a real SMTP server (aiosmtpd): a bilingual mail with no personal data at all, an
address used only after its confirmation link was opened, and SMTP failures retried or final."""

import re

import pytest
from django.conf import settings
from django.core import signing
from django.utils import timezone

from portal.core.errors import PortalError
from portal.notify import services
from portal.notify.models import Delivery, DeliveryStatus, NotificationPreference
from portal.notify.tasks import send_delivery

pytestmark = pytest.mark.django_db

ADDRESS = "hanako@example.jp"


def _verified(resident, address=ADDRESS) -> NotificationPreference:
    preference, _ = NotificationPreference.objects.update_or_create(
        resident=resident, defaults={"email": address, "email_verified_at": timezone.now()}
    )
    return preference


def _text(message) -> str:
    """Subject and body as a person reads them (decoded from MIME encoded-words and transfer encodings)."""
    return f"{message['Subject']}\n{message.get_content()}"


def test_the_mail_says_only_that_a_notice_arrived_in_japanese_and_english(
    resident, smtp_server, eager, django_capture_on_commit_callbacks
):
    _verified(resident)
    with django_capture_on_commit_callbacks(execute=True):
        (delivery,) = services.notify_resident(
            resident=resident, kind="notice", category="tax", url="/notices/"
        )

    message = smtp_server.only()
    text = _text(message)
    assert message["To"] == ADDRESS and message["Auto-Submitted"] == "auto-generated"
    assert "新しいお知らせがあります" in message["Subject"] and "You have a new notice" in message["Subject"]
    assert "マイナポータルにログインしてご確認ください" in text
    assert "Please log in to Myna Portal to read it" in text
    assert f"{settings.PORTAL_PUBLIC_URL}/notices/" in text
    personal = [
        resident.name,
        resident.name.replace(" ", ""),
        resident.name_kana,
        resident.my_number,
        resident.my_number[-4:],
        resident.address,
        resident.birth_date.isoformat(),
        str(resident.public_id),
    ]
    assert [item for item in personal if item in text] == []
    raw = message.as_string()
    assert resident.my_number not in raw and str(resident.public_id) not in raw
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.SENT and delivery.sent_at is not None


def test_confirming_an_address_through_the_link(
    resident, resident_client, smtp_server, eager, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = resident_client.post("/settings/notifications/email/", {"email": ADDRESS})
    assert response.status_code == 302

    message = smtp_server.only()
    assert message["To"] == ADDRESS
    text = _text(message)
    assert "メールアドレスの確認" in message["Subject"] and "confirm" in message["Subject"]
    assert resident.name not in text and resident.my_number not in text
    link = re.search(r"https?://\S+/settings/notifications/email/confirm/\S+/", text).group(0)
    path = link.removeprefix(settings.PORTAL_PUBLIC_URL)

    # Until the link is opened, notices are not mailed to the address.
    assert services.notify_resident(resident=resident, kind="notice", category="tax", url="/notices/") == []

    page = resident_client.get(path)  # a mail scanner's GET confirms nothing
    assert page.status_code == 200 and ADDRESS not in page.content.decode()
    assert NotificationPreference.objects.get(resident=resident).email_in_use == ""

    confirmed = resident_client.post(path)
    assert confirmed.status_code == 200 and 'id="email-confirmed"' in confirmed.content.decode()
    preference = NotificationPreference.objects.get(resident=resident)
    assert (preference.email_in_use, preference.email_pending) == (ADDRESS, "")

    again = resident_client.post(path)
    assert again.status_code == 400 and 'data-code="email_link_used"' in again.content.decode()


def test_a_link_for_an_address_replaced_since_does_not_confirm_the_new_one(resident):
    services.email_address_set(resident=resident, address="old@example.jp", language="ja")
    old_token = services.email_confirm_token(resident=resident, address="old@example.jp")
    services.email_address_set(resident=resident, address="new@example.jp", language="ja")
    with pytest.raises(PortalError) as refused:
        services.email_address_confirm(token=old_token)
    assert refused.value.code == "email_link_used"
    assert NotificationPreference.objects.get(resident=resident).email_in_use == ""


def test_tampered_and_expired_links_are_refused(resident, client, settings):
    services.email_address_set(resident=resident, address=ADDRESS, language="ja")
    token = services.email_confirm_token(resident=resident, address=ADDRESS)
    tampered = client.post(f"/settings/notifications/email/confirm/{token[:-2]}xx/")
    assert tampered.status_code == 400 and 'data-code="email_link_invalid"' in tampered.content.decode()
    settings.NOTIFY_EMAIL_CONFIRM_MAX_AGE = -1
    expired = client.post(f"/settings/notifications/email/confirm/{token}/")
    assert expired.status_code == 400 and 'data-code="email_link_expired"' in expired.content.decode()
    forged = signing.dumps({"r": str(resident.public_id), "e": "0" * 64}, salt="another-purpose")
    assert client.post(f"/settings/notifications/email/confirm/{forged}/").status_code == 400
    assert NotificationPreference.objects.get(resident=resident).email_in_use == ""


def test_a_refused_address_fails_at_once(resident, smtp_server, eager, django_capture_on_commit_callbacks):
    _verified(resident)
    smtp_server.refuse.add(ADDRESS)
    with django_capture_on_commit_callbacks(execute=True):
        (delivery,) = services.notify_resident(
            resident=resident, kind="notice", category="tax", url="/notices/"
        )
    delivery.refresh_from_db()
    assert (delivery.status, delivery.error_code, delivery.attempts) == (
        DeliveryStatus.FAILED,
        "smtp_recipient_refused",
        1,
    )


def test_an_unreachable_mail_server_is_retried_then_fails_visibly(resident, smtp_server, eager, settings):
    _verified(resident)
    settings.MAILERS = {
        "default": {
            "BACKEND": "django.core.mail.backends.smtp.EmailBackend",
            "OPTIONS": {"host": "127.0.0.1", "port": 9, "timeout": 2},  # nothing listens on the discard port
        }
    }
    (delivery,) = services.notify_resident(resident=resident, kind="notice", category="tax", url="/notices/")
    result = send_delivery.apply(kwargs={"delivery_id": delivery.pk})
    assert result.failed()
    delivery = Delivery.objects.get(pk=delivery.pk)
    assert (delivery.status, delivery.error_code) == (DeliveryStatus.FAILED, "smtp_unreachable")
    assert delivery.attempts == 1 + send_delivery.max_retries
