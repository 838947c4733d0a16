"""A firm's e-mail: sent once, retried while the mail server is unreachable, and a final failure (or a
refused address) left where staff see it."""

import pytest
from django.core import mail

from portal.firms import services
from portal.firms.models import FirmEvent, FirmEventKind
from portal.firms.tasks import send_event_mail
from portal.notify.mail import MailRefused, MailRetryable

pytestmark = pytest.mark.django_db


@pytest.fixture
def event(applied) -> FirmEvent:
    firm, _ = applied
    return FirmEvent.objects.get(firm=firm, kind=FirmEventKind.APPLIED)


def test_a_mail_is_sent_once(event):
    assert services.event_mail_send(event_id=event.pk) == "sent"
    assert services.event_mail_send(event_id=event.pk) == "already_sent"
    assert len(mail.outbox) == 1
    event.refresh_from_db()
    assert event.mailed_at is not None and event.mail_failed_at is None


def test_a_refused_address_fails_at_once(event, monkeypatch):
    def refuse(message):
        raise MailRefused("smtp_recipient_refused")

    monkeypatch.setattr("portal.firms.mail.message_send", refuse)
    assert services.event_mail_send(event_id=event.pk) == "refused"
    event.refresh_from_db()
    assert event.mailed_at is None and event.mail_failed_at is not None
    assert event.mail_error == "smtp_recipient_refused"


def test_an_unreachable_server_is_retried_then_the_failure_is_kept(event, eager, monkeypatch):
    tries = []

    def unreachable(message):
        tries.append(message)
        raise MailRetryable("smtp_unreachable")

    monkeypatch.setattr("portal.firms.mail.message_send", unreachable)
    send_event_mail.apply(args=(event.pk,))
    assert len(tries) == send_event_mail.max_retries + 1
    event.refresh_from_db()
    assert event.mailed_at is None and event.mail_error == "smtp_unreachable"


def test_the_mail_holds_no_secret_and_names_the_firm_in_both_languages(applied, event):
    firm, token = applied
    services.event_mail_send(event_id=event.pk)
    (message,) = mail.outbox
    assert token not in message.body and firm.manage_token_hash not in message.body
    assert "つばめ信用金庫" in message.body and "Tsubame Shinkin Bank" in message.body
    assert str(firm.public_id) in message.body and message.extra_headers["Auto-Submitted"] == "auto-generated"
