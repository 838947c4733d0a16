"""The notice inbox's limits and timings: each may be set in the settings (tests do); these are defaults."""

from typing import Any

from django.conf import settings

DEFAULTS: dict[str, Any] = {
    # Content an agency may send.
    "NOTICE_TITLE_MAX_CHARS": 200,
    "NOTICE_BODY_MAX_CHARS": 20_000,
    "NOTICE_SCHEMA_MAX_BYTES": 32_768,
    "NOTICE_SCHEMA_MAX_FIELDS": 50,
    "NOTICE_ATTACHMENT_MAX_BYTES": 5 * 1024 * 1024,
    "NOTICE_ATTACHMENTS_MAX": 5,
    # The whole API request (JSON with base64 attachments): refused unread above this.
    "NOTICE_REQUEST_MAX_BYTES": 40 * 1024 * 1024,
    # Agency client assertions: accepted audiences (the agency API's URL), lifetime and clock skew.
    "AGENCY_API_AUDIENCES": None,  # None: [PORTAL_PUBLIC_URL + "/api/agency/v1"]
    "AGENCY_ASSERTION_MAX_LIFETIME": 300,
    "AGENCY_ASSERTION_LEEWAY": 30,
    # Webhooks: attempts before a delivery is dead-lettered, back-off base and cap (seconds), timeout.
    # With these: 30 s, 1, 2, 4, 8, 16, 32 min, 1, 2 h between the ten attempts (about 4 h in all).
    "NOTICE_WEBHOOK_MAX_ATTEMPTS": 10,
    "NOTICE_WEBHOOK_BACKOFF_BASE": 30,
    "NOTICE_WEBHOOK_BACKOFF_MAX": 6 * 3600,
    "NOTICE_WEBHOOK_TIMEOUT": 10.0,
    # Reminders: this many business days (weekends, public holidays and 29 Dec - 3 Jan excluded)
    # before the deadline, a resident who has not answered is reminded once.
    "NOTICE_REMINDER_BUSINESS_DAYS": 3,
    # The inbox: notices per page, and how long the header's unread count may be reused.
    "NOTICE_PAGE_SIZE": 50,
    "NOTICE_UNREAD_CACHE_SECONDS": 300,
}


def conf(name: str) -> Any:
    return getattr(settings, name, DEFAULTS[name])


def agency_api_audiences() -> list[str]:
    configured = conf("AGENCY_API_AUDIENCES")
    if configured:
        return list(configured)
    return [f"{settings.PORTAL_PUBLIC_URL}/api/agency/v1"]
