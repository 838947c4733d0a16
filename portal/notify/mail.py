"""The only sender of e-mail to residents, through Django's e-mail backend (SMTP in production).

A mail says, in Japanese and English, only that something is waiting in the portal, with a link to it:
no name, no sender agency, no title, nothing a mailbox should not hold. SMTP answers are sorted into
retryable (the server is down or says "try later") and refused (the address was rejected).
"""

import smtplib

from django.conf import settings
from django.core.mail import EmailMessage
from django.template.loader import render_to_string

from portal.notify.categories import KIND_TEXTS


class MailError(Exception):
    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


class MailRetryable(MailError):
    """The mail server is unreachable or answered with a temporary (4xx) failure."""


class MailRefused(MailError):
    """The mail server rejected the message or the address for good (5xx)."""


def portal_link(path: str) -> str:
    return settings.PORTAL_PUBLIC_URL + path


def _message(*, to: str, subject_template: str, body_template: str, context: dict) -> EmailMessage:
    subject = " ".join(render_to_string(subject_template, context).split())
    body = render_to_string(body_template, context)
    return EmailMessage(
        subject=subject,
        body=body,
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[to],
        # Tells auto-responders and mailing robots not to answer (RFC 3834).
        headers={"Auto-Submitted": "auto-generated"},
    )


def message_send(message: EmailMessage) -> None:
    """Sends one message through the default mailer; SMTP faults become MailRetryable or MailRefused."""
    try:
        message.send()  # the default mailer (settings.MAILERS), with its timeout
    except smtplib.SMTPRecipientsRefused as exc:
        codes = [code for code, _ in exc.recipients.values()]
        if codes and all(400 <= code < 500 for code in codes):
            raise MailRetryable("smtp_recipient_deferred") from exc
        raise MailRefused("smtp_recipient_refused") from exc
    except smtplib.SMTPResponseException as exc:
        if 400 <= exc.smtp_code < 500:
            raise MailRetryable(f"smtp_{exc.smtp_code}") from exc
        raise MailRefused(f"smtp_{exc.smtp_code}") from exc
    except (smtplib.SMTPException, OSError) as exc:  # disconnected, refused connection, timeout
        raise MailRetryable("smtp_unreachable") from exc


def notice_mail_send(*, to: str, kind: str, url: str) -> None:
    """Tells the mailbox that something of this kind arrived; the link is the only specific in it."""
    texts = KIND_TEXTS[kind]
    context = {
        "text_ja": texts["ja"],
        "text_en": texts["en"],
        "link": portal_link(url),
        "settings_link": portal_link("/settings/notifications/"),
    }
    message_send(
        _message(
            to=to,
            subject_template="notify/email/notice_subject.txt",
            body_template="notify/email/notice.txt",
            context=context,
        )
    )


def confirmation_mail_send(*, to: str, confirm_path: str) -> None:
    """Asks the mailbox's owner to confirm it: the link carries a signed, expiring token."""
    context = {
        "link": portal_link(confirm_path),
        "settings_link": portal_link("/settings/notifications/"),
        "hours": settings.NOTIFY_EMAIL_CONFIRM_MAX_AGE // 3600,
    }
    message_send(
        _message(
            to=to,
            subject_template="notify/email/confirm_subject.txt",
            body_template="notify/email/confirm.txt",
            context=context,
        )
    )
