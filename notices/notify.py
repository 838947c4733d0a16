"""Telling residents that a notice arrived, through portal.notify (push, e-mail) when it is installed.

The message says only that something arrived, with a link; never the notice's content (SPEC 2).
A notice category that portal.notify has no preference for is told as "general".
"""

import contextlib
import inspect
from collections.abc import Callable
from functools import cache
from typing import Any

from portal.identity.models import Resident

FALLBACK_CATEGORY = "general"


@cache
def _sender() -> tuple[Callable[..., Any] | None, frozenset[str] | None, bool]:
    """notify_resident, the categories it knows (None: any), and whether it dedupes by key."""
    try:
        from portal.notify.services import notify_resident
    except ImportError:
        return None, None, False
    try:
        from portal.notify.categories import CATEGORY_CODES
    except ImportError:
        CATEGORY_CODES = None
    dedupes = "dedupe_key" in inspect.signature(notify_resident).parameters
    return notify_resident, frozenset(CATEGORY_CODES) if CATEGORY_CODES else None, dedupes


def notifications_together() -> contextlib.AbstractContextManager[None]:
    """Around a loop that tells many residents: portal.notify queues their messages in batches (its
    deliveries_queued_together) rather than one worker task per resident. Nothing when not installed."""
    try:
        from portal.notify.services import deliveries_queued_together
    except ImportError:
        return contextlib.nullcontext()
    return deliveries_queued_together()


def resident_notify(
    *, resident: Resident, category: str, url: str, kind: str = "notice", dedupe_key: str = ""
) -> bool:
    """Whether portal.notify took the notification (False when it is not installed)."""
    notify_resident, categories, dedupes = _sender()
    if notify_resident is None:
        return False
    if categories is not None and category not in categories:
        category = FALLBACK_CATEGORY
    options = {"dedupe_key": dedupe_key} if dedupes and dedupe_key else {}
    notify_resident(resident=resident, kind=kind, category=category, url=url, **options)
    return True
