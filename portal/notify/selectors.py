"""Reads for the notification settings page and the senders."""

import hashlib

from django.db.models import Exists, OuterRef, Q, QuerySet

from portal.identity.models import Resident
from portal.notify.models import NotificationPreference, PushSubscription


def preference_get(*, resident: Resident) -> NotificationPreference:
    """The resident's preference, or the defaults (everything on, no e-mail, no quiet hours) unsaved."""
    return NotificationPreference.objects.filter(resident=resident).first() or NotificationPreference(
        resident=resident
    )


def push_subscription_list(*, resident: Resident) -> QuerySet[PushSubscription]:
    return PushSubscription.objects.filter(resident=resident).order_by("created_at")


def endpoint_digest(endpoint: str) -> str:
    """SHA-256 of an endpoint, as the page's script computes it to tell whether this browser is listed."""
    return hashlib.sha256(endpoint.encode()).hexdigest()


def reachable_residents(residents: QuerySet[Resident]) -> QuerySet[Resident]:
    """Of these residents, those notify_resident could tell: with a browser subscribed or a confirmed address.

    A broadcast reaches every inbox at read time; only these need a task's work (and for most residents,
    who have neither, there is nothing to send).
    """
    has_device = Exists(PushSubscription.objects.filter(resident=OuterRef("pk")))
    return residents.filter(has_device | Q(notification_preference__email_verified_at__isnull=False))
