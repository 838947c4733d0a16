"""E-mail to a firm's contact address: each decision on its application and registration, in Japanese and
English. Never the manage link's secret (shown once, on the page), never anything about a resident."""

from django.conf import settings
from django.core.mail import EmailMessage
from django.template.loader import render_to_string

from portal.firms.models import ClientEnvironment, FirmEvent, FirmEventKind
from portal.notify.mail import message_send

# Subjects in both languages, whatever language the worker runs in.
SUBJECTS = {
    FirmEventKind.APPLIED: ("利用の申請を受け付けました", "your application was received"),
    FirmEventKind.APPROVED: ("申請が承認されました（検証環境）", "your application was approved (sandbox)"),
    FirmEventKind.REJECTED: ("申請は承認されませんでした", "your application was not approved"),
    FirmEventKind.PRODUCTION_ALLOWED: ("本番環境の利用が認められました", "production access was allowed"),
    FirmEventKind.SUSPENDED: (
        "同意APIの利用が停止されました",
        "your access to the consent API was suspended",
    ),
    FirmEventKind.UNSUSPENDED: ("同意APIの利用の停止が解除されました", "your suspension was lifted"),
    FirmEventKind.CONTROLLER_CHANGED: ("事業者の変更を記録しました", "a change of controller was recorded"),
    FirmEventKind.REDIRECT_URIS_CHANGED: (
        "リダイレクトURIが変更されました",
        "your redirect URIs were changed",
    ),
    FirmEventKind.JWKS_CHANGED: ("公開鍵（JWKS）が変更されました", "your public keys (JWKS) were changed"),
}


def event_mail_send(event: FirmEvent) -> None:
    """Raises portal.notify.mail.MailRetryable or MailRefused when the mail server does not take it."""
    firm = event.firm
    clients = {client.environment: client.client_id for client in firm.clients.all()}
    context = {
        "firm": firm,
        "event": event,
        "kind": event.kind,
        "subject_ja": SUBJECTS[event.kind][0],
        "subject_en": SUBJECTS[event.kind][1],
        "sandbox_client_id": clients.get(ClientEnvironment.SANDBOX, ""),
        "production_client_id": clients.get(ClientEnvironment.PRODUCTION, ""),
        "change": firm.controller_changes.order_by("-recorded_at", "-pk").first(),
        "discovery_url": f"{settings.OIDC_ISSUER}/.well-known/openid-configuration",
        "developers_url": f"{settings.PORTAL_PUBLIC_URL}/developers/",
    }
    subject = " ".join(render_to_string("firms/email/event_subject.txt", context).split())
    message = EmailMessage(
        subject=subject,
        body=render_to_string("firms/email/event.txt", context),
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[firm.contact_email],
        headers={"Auto-Submitted": "auto-generated"},
    )
    message_send(message)
