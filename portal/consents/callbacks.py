"""Telling a firm that a consent ended: a JWT signed with the portal's ID-token key, POSTed to the
firm's callback URL, re-sent until the firm answers 2xx (docs/consent-api.md)."""

import time
import uuid

import httpx
from django.conf import settings
from django.utils import timezone
from joserfc import jwt

from portal.consents import keys
from portal.consents.models import Consent

CALLBACK_TIMEOUT_SECONDS = 5


class FirmUnreachable(Exception):
    """The firm did not take the message; try again later."""


def consent_ended_jwt(consent: Consent) -> str:
    from portal.consents.services import pairwise_subject

    key = keys.signing_key()
    now = int(time.time())
    claims = {
        "iss": settings.OIDC_ISSUER,
        "aud": consent.client.client_id,
        "iat": now,
        "exp": now + 24 * 3600,
        "jti": str(uuid.uuid4()),
        "event": "consent.ended",
        "consent": str(consent.public_id),
        "sub": pairwise_subject(consent),
        "reason": consent.state,
        "ended_at": int(consent.ended_at.timestamp()) if consent.ended_at else now,
    }
    return jwt.encode({"alg": "ES256", "kid": key.kid, "typ": "consent-event+jwt"}, claims, key)


def consent_ended_send(consent: Consent) -> bool:
    """True once the firm has the message (or has no callback); raises FirmUnreachable to retry."""
    url = consent.client.callback_url
    if not url:
        return True
    Consent.objects.filter(pk=consent.pk).update(firm_tell_tried_at=timezone.now())
    try:
        response = httpx.post(
            url,
            content=consent_ended_jwt(consent),
            headers={"Content-Type": "application/jwt"},
            timeout=CALLBACK_TIMEOUT_SECONDS,
            follow_redirects=False,
        )
    except httpx.HTTPError as exc:
        raise FirmUnreachable(f"{type(exc).__name__}") from exc
    if not 200 <= response.status_code < 300:
        raise FirmUnreachable(f"HTTP {response.status_code}")
    Consent.objects.filter(pk=consent.pk).update(firm_told_at=timezone.now())
    return True
