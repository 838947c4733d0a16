"""Telling residents that something arrived: by Web Push and e-mail, as each resident chose, never with
the content itself (no name, no title, no sender in a push or a mail), and never during quiet hours.

notify_resident makes one Delivery per device or mailbox and queues the due ones after commit, as one
batch; the worker sends a batch (send_deliveries), and a delivery to be tried again on its own
(send_delivery); the lost-task sweep (portal.core.lost_tasks, kind ``notify.delivery``) queues held ones
when they fall due, and again queued ones lost on the way to a worker. Every step is safe to run twice: a
delivery that is no longer queued is not sent again.
"""

import base64
import binascii
import datetime as dt
import json
import logging
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import partial
from time import monotonic
from urllib.parse import urlsplit

from celery.exceptions import SoftTimeLimitExceeded
from cryptography.hazmat.primitives.asymmetric import ec
from django.conf import settings
from django.core import signing
from django.core.exceptions import ValidationError
from django.core.validators import EmailValidator
from django.db import transaction
from django.db.models import Case, F, Q, QuerySet, Value, When
from django.utils import timezone

from portal.core.crypto import lookup_hash
from portal.core.errors import PortalError
from portal.core.lost_tasks import RELEASED, SENT_AGAIN
from portal.identity.models import Resident
from portal.notify import mail, webpush
from portal.notify.categories import CATEGORY_CODES, KINDS, kind_text, title_text
from portal.notify.models import Channel, Delivery, DeliveryStatus, NotificationPreference, PushSubscription
from portal.notify.quiet_hours import quiet_until
from portal.notify.selectors import preference_get

logger = logging.getLogger(__name__)

#: A subscription's JSON is a few hundred bytes; anything much larger is not one.
MAX_SUBSCRIPTION_BYTES = 4096
MAX_ENDPOINT_LENGTH = 1024
#: Browsers and phones one resident may register at once.
MAX_DEVICES = 10
#: Final failures in a row after which a subscription is dropped (a 404 or 410 drops it at once).
MAX_PUSH_FAILURES = 10
#: Deliveries one lost-task sweep queues (a minute's worth when quiet hours end for many at once), and
#: how many one UPDATE marks.
SWEEP_DELIVERIES = 20_000
SWEEP_UPDATE_CHUNK = 1000
#: Deliveries one send_deliveries task takes. A task has fixed costs (the broker's round trip, a database
#: connection, reading the batch, one commit) that a batch shares; a notify_resident call's deliveries (one
#: per device and one mail) always fit in one.
SEND_BATCH = 100
#: A batch starts sends for this long, then queues what is left as a new batch, well inside its time limit.
SEND_BATCH_SECONDS = 60
#: In a fan-out (deliveries_queued_together), deliveries wait at most about this long for a batch to fill.
TOGETHER_SECONDS = 1.0
EMAIL_CONFIRMATION = "email_confirmation"  # a Delivery kind of its own: the mail that confirms an address
_EMAIL_CONFIRM_SALT = "portal.notify.email-confirm"
_B64URL = re.compile(r"[A-Za-z0-9_-]+")
_together = threading.local()  # the deliveries a fan-out in this thread has yet to queue


# --- input ------------------------------------------------------------------------------------------------


def _refusal(code: str, ja: str, en: str) -> PortalError:
    return PortalError(code=code, message_ja=ja, message_en=en, status=400)


@dataclass(frozen=True)
class SubscriptionInput:
    """A browser's PushSubscription, checked: an https endpoint of a push service and two usable keys."""

    endpoint: str
    p256dh: str
    auth: str


def _b64url_bytes(value: object, *, length: int) -> tuple[str, bytes] | None:
    """The unpadded text and bytes of a base64url value of exactly `length` bytes, or None."""
    if not isinstance(value, str):
        return None
    text = value.rstrip("=")
    if len(value) - len(text) > 2 or not _B64URL.fullmatch(text) or len(text) != (length * 4 + 2) // 3:
        return None
    try:
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError):
        return None
    return (text, raw) if len(raw) == length else None


def _endpoint_host_allowed(host: str) -> bool:
    allowed = settings.WEBPUSH_ENDPOINT_HOSTS
    return not allowed or any(host == entry or host.endswith("." + entry) for entry in allowed)


def _endpoint_checked(value: object) -> str:
    bad = _refusal(
        "push_endpoint_invalid",
        "通知の送信先が正しくありません（https の送信先が必要です）。",
        "The push endpoint is not valid (it must be an https address of a push service).",
    )
    if not isinstance(value, str) or not value or len(value) > MAX_ENDPOINT_LENGTH:
        raise bad
    if not value.isascii() or any(ch.isspace() or ord(ch) < 32 or ch == "\\" for ch in value):
        raise bad
    try:
        parts = urlsplit(value)
        host = parts.hostname
        parts.port  # noqa: B018 -- raises on a malformed port
    except ValueError as exc:
        raise bad from exc
    if parts.scheme != "https" or not host or parts.username or parts.password or parts.fragment:
        raise bad
    if not _endpoint_host_allowed(host.lower()):
        raise _refusal(
            "push_service_unknown",
            "この通知サービスには送信できません。",
            "Notifications cannot be sent to this push service.",
        )
    return value


def subscription_parse(raw: bytes) -> SubscriptionInput:
    """Checks the JSON a browser's ``PushSubscription.toJSON()`` gives; a clear refusal otherwise."""
    if len(raw) > MAX_SUBSCRIPTION_BYTES:
        raise _refusal(
            "push_subscription_too_large",
            "通知の登録データが大きすぎます。",
            "The subscription is too large.",
        )
    try:
        data = json.loads(raw)
    except (UnicodeDecodeError, ValueError) as exc:
        raise _refusal(
            "push_subscription_malformed",
            "通知の登録データの形式が正しくありません。",
            "The subscription is not valid JSON.",
        ) from exc
    keys = data.get("keys") if isinstance(data, dict) else None
    if not isinstance(keys, dict):
        raise _refusal(
            "push_subscription_malformed",
            "通知の登録データに必要な項目がありません。",
            "The subscription lacks its endpoint or keys.",
        )
    endpoint = _endpoint_checked(data.get("endpoint"))
    bad_keys = _refusal(
        "push_keys_invalid",
        "通知の暗号鍵が正しくありません。",
        "The subscription's encryption keys are not valid.",
    )
    p256dh = _b64url_bytes(keys.get("p256dh"), length=65)
    auth = _b64url_bytes(keys.get("auth"), length=16)
    if p256dh is None or auth is None or p256dh[1][0] != 0x04:
        raise bad_keys
    try:
        ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), p256dh[1])
    except ValueError as exc:  # not a point on P-256
        raise bad_keys from exc
    return SubscriptionInput(endpoint=endpoint, p256dh=p256dh[0], auth=auth[0])


def unsubscribe_parse(raw: bytes) -> str:
    """The endpoint of ``{"endpoint": ...}``, as the page's script sends it when a browser unsubscribes."""
    try:
        data = json.loads(raw) if len(raw) <= MAX_SUBSCRIPTION_BYTES else None
    except (UnicodeDecodeError, ValueError):
        data = None
    endpoint = data.get("endpoint") if isinstance(data, dict) else None
    if not isinstance(endpoint, str) or not endpoint or len(endpoint) > MAX_ENDPOINT_LENGTH:
        raise _refusal(
            "push_subscription_malformed",
            "通知の解除データの形式が正しくありません。",
            "The unsubscription is not valid.",
        )
    return endpoint


# A User-Agent's tokens and the names residents know them by, the first found winning: Edge and Samsung
# Internet also say Chrome, Chrome also says Safari; Android also says Linux.
BROWSER_TOKENS = (
    ("Edg/", "Edge"),
    ("SamsungBrowser", "Samsung Internet"),
    ("Firefox/", "Firefox"),
    ("Chrome/", "Chrome"),
    ("Chromium/", "Chromium"),
    ("Safari/", "Safari"),
)
SYSTEM_TOKENS = (
    ("Android", "Android"),
    ("iPhone", "iPhone"),
    ("iPad", "iPad"),
    ("Windows", "Windows"),
    ("Mac OS X", "Mac"),
    ("CrOS", "ChromeOS"),
    ("Linux", "Linux"),
)


def device_label(user_agent: str) -> str:
    """A short name residents recognise ("Chrome / Android"); the full User-Agent is not kept."""
    ua = user_agent or ""
    parts = (
        next((name for token, name in tokens if token in ua), "")
        for tokens in (BROWSER_TOKENS, SYSTEM_TOKENS)
    )
    return " / ".join(part for part in parts if part)[:60]


# --- subscriptions and preferences ------------------------------------------------------------------------


def _endpoint_hash(endpoint: str) -> str:
    return lookup_hash(endpoint, purpose="push-endpoint")


def _preference_for_update(resident: Resident) -> NotificationPreference:
    preference, _ = NotificationPreference.objects.select_for_update().get_or_create(resident=resident)
    return preference


@transaction.atomic
def push_subscription_save(
    *, resident: Resident, subscription: SubscriptionInput, user_agent: str, language: str
) -> PushSubscription:
    """Registers a device for pushes; a device registered before (by anyone) moves to this resident."""
    endpoint_hash = _endpoint_hash(subscription.endpoint)
    existing = PushSubscription.objects.select_for_update().filter(endpoint_hash=endpoint_hash).first()
    if existing is None and PushSubscription.objects.filter(resident=resident).count() >= MAX_DEVICES:
        raise _refusal(
            "too_many_devices",
            f"通知を受け取る端末は{MAX_DEVICES}台までです。使っていない端末を削除してください。",
            f"At most {MAX_DEVICES} devices can receive notifications. Remove one you no longer use.",
        )
    record = existing or PushSubscription(endpoint_hash=endpoint_hash)
    record.resident = resident
    record.endpoint = subscription.endpoint
    record.p256dh = subscription.p256dh
    record.auth = subscription.auth
    record.user_agent = device_label(user_agent)
    record.failure_count = 0
    record.save()
    preference = _preference_for_update(resident)
    if preference.language != language:
        preference.language = language
        preference.save(update_fields=["language", "updated_at"])
    return record


@transaction.atomic
def push_subscription_remove(*, resident: Resident, endpoint: str) -> bool:
    """This browser unsubscribed: forget its endpoint (only if it is this resident's)."""
    deleted, _ = PushSubscription.objects.filter(
        resident=resident, endpoint_hash=_endpoint_hash(endpoint)
    ).delete()
    return deleted > 0


@transaction.atomic
def push_subscription_delete(*, resident: Resident, subscription_id: int) -> bool:
    """A device removed from the list on the settings page (works without JavaScript)."""
    deleted, _ = PushSubscription.objects.filter(resident=resident, pk=subscription_id).delete()
    return deleted > 0


@transaction.atomic
def preference_set(
    *,
    resident: Resident,
    push_categories: list[str],
    email_categories: list[str],
    quiet_start: dt.time | None,
    quiet_end: dt.time | None,
    language: str,
) -> NotificationPreference:
    unknown = (set(push_categories) | set(email_categories)) - set(CATEGORY_CODES)
    if unknown:
        raise ValueError(f"unknown notification categories: {sorted(unknown)}")
    if (quiet_start is None) != (quiet_end is None):
        raise ValueError("quiet hours need both a start and an end")
    preference = _preference_for_update(resident)
    preference.push_categories = [c for c in CATEGORY_CODES if c in push_categories]
    preference.email_categories = [c for c in CATEGORY_CODES if c in email_categories]
    preference.quiet_start = quiet_start
    preference.quiet_end = quiet_end
    preference.language = language
    preference.save()
    return preference


def _address_digest(address: str) -> str:
    return lookup_hash(address.strip().lower(), purpose="notify-email-confirm")


def email_confirm_token(*, resident: Resident, address: str) -> str:
    """Signed and timestamped; names the resident and (by keyed hash only) the address to confirm."""
    return signing.dumps(
        {"r": str(resident.public_id), "e": _address_digest(address)}, salt=_EMAIL_CONFIRM_SALT
    )


@transaction.atomic
def email_address_set(*, resident: Resident, address: str, language: str) -> NotificationPreference:
    """Asks for a new address to be confirmed (the one in use stays until then); empty removes both."""
    address = address.strip()
    preference = _preference_for_update(resident)
    preference.language = language
    if not address:
        preference.email = ""
        preference.email_verified_at = None
        preference.email_pending = ""
        preference.email_pending_since = None
        preference.save()
        return preference
    try:
        EmailValidator()(address)
    except ValidationError as exc:
        raise _refusal(
            "email_invalid", "メールアドレスの形式が正しくありません。", "The e-mail address is not valid."
        ) from exc
    if len(address) > 254:
        raise _refusal("email_invalid", "メールアドレスが長すぎます。", "The e-mail address is too long.")
    if preference.email_in_use and preference.email_in_use.lower() == address.lower():
        preference.email_pending = ""  # the address in use again: nothing to confirm
        preference.email_pending_since = None
        preference.save()
        return preference
    now = timezone.now()
    preference.email_pending = address
    preference.email_pending_since = now
    preference.save()
    delivery = Delivery.objects.create(
        resident=resident,
        kind=EMAIL_CONFIRMATION,
        category="",
        channel=Channel.EMAIL,
        url="/settings/notifications/",
        status=DeliveryStatus.QUEUED,
        due_at=now,
    )
    _queue_on_commit([delivery.pk])
    return preference


@transaction.atomic
def email_address_confirm(*, token: str) -> NotificationPreference:
    """Confirms the address the link was sent to; a link is good once, for a day, for that address only."""
    try:
        claims = signing.loads(token, salt=_EMAIL_CONFIRM_SALT, max_age=settings.NOTIFY_EMAIL_CONFIRM_MAX_AGE)
    except signing.SignatureExpired as exc:
        raise _refusal(
            "email_link_expired",
            "確認用リンクの有効期限が切れました。通知の設定からもう一度登録してください。",
            "This confirmation link has expired. Enter the address again in your notification settings.",
        ) from exc
    except signing.BadSignature as exc:
        raise _refusal(
            "email_link_invalid", "確認用リンクが正しくありません。", "This confirmation link is not valid."
        ) from exc
    preference = (
        NotificationPreference.objects.select_for_update().filter(resident__public_id=claims.get("r")).first()
    )
    if (
        preference is None
        or not preference.email_pending
        or _address_digest(preference.email_pending) != claims.get("e")
    ):
        raise _refusal(
            "email_link_used",
            "この確認用リンクは使用済みか、別のアドレスが登録されたため無効です。",
            "This confirmation link has been used already, or another address was entered since.",
        )
    preference.email = preference.email_pending
    preference.email_verified_at = timezone.now()
    preference.email_pending = ""
    preference.email_pending_since = None
    preference.save()
    return preference


# --- telling the resident ---------------------------------------------------------------------------------


def _path_checked(url: str) -> str:
    """A path on the portal: a message never links to another site."""
    if (
        not isinstance(url, str)
        or not url.startswith("/")
        or url.startswith("//")
        or len(url) > 200
        or not url.isascii()
        or any(ch.isspace() or ch == "\\" or ord(ch) < 32 for ch in url)
    ):
        raise ValueError(f"not a portal path: {url!r}")
    return url


def push_payload(*, kind: str, url: str, language: str) -> str:
    """The whole of what a push carries (encrypted to the device): that something arrived, and where."""
    return json.dumps(
        {"title": title_text(language), "body": kind_text(kind, language), "url": url},
        ensure_ascii=False,
        separators=(",", ":"),
    )


def _batches_queue(delivery_ids: list[int]) -> None:
    from portal.notify.tasks import send_deliveries  # the tasks import this module

    for start in range(0, len(delivery_ids), SEND_BATCH):
        send_deliveries.delay(delivery_ids[start : start + SEND_BATCH])


def _queue_now(delivery_ids: list[int]) -> None:
    pending = getattr(_together, "pending", None)
    if pending is None:
        _batches_queue(delivery_ids)
        return
    now = monotonic()
    if not pending:
        _together.since = now
    pending.extend(delivery_ids)
    if now - _together.since >= TOGETHER_SECONDS:
        due = len(pending)
    else:
        due = len(pending) // SEND_BATCH * SEND_BATCH  # full batches only; the rest waits for more
    if due:
        ids = pending[:due]
        del pending[:due]
        _together.since = now
        _batches_queue(ids)


def _queue_on_commit(delivery_ids: list[int]) -> None:
    """Queues the deliveries for the worker once the caller's transaction commits, SEND_BATCH a task."""
    if delivery_ids:
        # robust: the caller's work is committed; a broker hiccup leaves the rows queued for the sweep.
        transaction.on_commit(partial(_queue_now, list(delivery_ids)), robust=True)


@contextmanager
def deliveries_queued_together() -> Iterator[None]:
    """For a fan-out that calls notify_resident for one resident after another: within it, the deliveries
    this thread makes are queued SEND_BATCH to a task instead of one task per call, so that residents with
    one device each share the worker's per-task costs as one resident with many devices does. None waits
    more than TOGETHER_SECONDS (as the next call commits) and the rest are queued on leaving.

    Each call hands its deliveries over as it commits, so this groups calls made in autocommit (a worker's
    task); inside an outer transaction they are queued when it commits, after this, one task per call."""
    if getattr(_together, "pending", None) is not None:
        yield  # an outer one queues them
        return
    _together.pending, _together.since = [], monotonic()
    try:
        yield
    finally:
        pending, _together.pending = _together.pending, None
        if pending:
            try:
                _batches_queue(pending)
            except Exception:  # as robust on_commit: the rows stay queued for the sweep
                logger.exception("could not queue %d notifications", len(pending))


def _retry_on_commit(delivery_ids: list[int]) -> None:
    """Deliveries a batch should try again later, each as its own send_delivery task with back-off."""
    if not delivery_ids:
        return
    from portal.notify.tasks import send_delivery_later

    def queue() -> None:
        for delivery_id in delivery_ids:
            send_delivery_later(delivery_id)

    transaction.on_commit(queue, robust=True)


@transaction.atomic
def notify_resident(
    *,
    resident: Resident,
    kind: str,
    category: str,
    url: str,
    not_before: dt.datetime | None = None,
    dedupe_key: str = "",
) -> list[Delivery]:
    """Tells the resident's devices and mailbox that something of `kind` arrived, as they chose.

    `category` is a notice's category code (or "release_alert"); `url` a path on the portal the message
    opens. `not_before` holds every message until then (an alert about a release whose disclosure is
    deferred); quiet hours hold pushes until they end. `dedupe_key`, when given, makes a second call
    with the same key do nothing (a redelivered task).
    """
    if kind not in KINDS:
        raise ValueError(f"unknown notification kind {kind!r}")
    if category not in CATEGORY_CODES:
        raise ValueError(f"unknown notification category {category!r}")
    _path_checked(url)
    if dedupe_key and Delivery.objects.filter(resident=resident, dedupe_key=dedupe_key).exists():
        return []
    now = timezone.now()
    due = max(now, not_before) if not_before else now
    preference = preference_get(resident=resident)
    common = {"resident": resident, "kind": kind, "category": category, "url": url, "dedupe_key": dedupe_key}
    deliveries = []
    if category in preference.push_categories:
        push_due = quiet_until(at=due, start=preference.quiet_start, end=preference.quiet_end) or due
        status = DeliveryStatus.HELD if push_due > now else DeliveryStatus.QUEUED
        deliveries += [
            Delivery(channel=Channel.PUSH, subscription_id=sid, status=status, due_at=push_due, **common)
            for sid in PushSubscription.objects.filter(resident=resident).values_list("pk", flat=True)
        ]
    if preference.email_in_use and category in preference.email_categories:
        status = DeliveryStatus.HELD if due > now else DeliveryStatus.QUEUED
        deliveries.append(Delivery(channel=Channel.EMAIL, status=status, due_at=due, **common))
    Delivery.objects.bulk_create(deliveries)
    _queue_on_commit([d.pk for d in deliveries if d.status == DeliveryStatus.QUEUED])
    return deliveries


def notify_resident_later(
    *,
    resident_id: int,
    kind: str,
    category: str,
    url: str,
    not_before: dt.datetime | None = None,
    dedupe_key: str = "",
) -> None:
    """notify_resident in the worker, queued when the current transaction commits: one broker message
    on the caller's path and nothing more (the access history's record path uses it)."""
    from portal.notify.tasks import notify_resident as notify_task

    transaction.on_commit(
        partial(
            notify_task.delay,
            resident_id=resident_id,
            kind=kind,
            category=category,
            url=url,
            not_before=not_before.isoformat() if not_before else None,
            dedupe_key=dedupe_key,
        ),
        robust=True,
    )


def notify_resident_by_id(
    *,
    resident_id: int,
    kind: str,
    category: str,
    url: str,
    not_before: dt.datetime | None = None,
    dedupe_key: str = "",
) -> int:
    """The worker's side of notify_resident_later: how many messages were made (0 if none wanted)."""
    resident = Resident.objects.filter(pk=resident_id).first()
    if resident is None:
        return 0
    return len(
        notify_resident(
            resident=resident,
            kind=kind,
            category=category,
            url=url,
            not_before=not_before,
            dedupe_key=dedupe_key,
        )
    )


# --- sending ----------------------------------------------------------------------------------------------


@dataclass
class _Attempt:
    """What one try at one delivery came to. A batch's attempts are written together after the sends."""

    delivery: Delivery
    status: str | None  # None: stays queued until it is tried again (`retry`)
    error_code: str = ""
    attempted: bool = False
    sent_at: dt.datetime | None = None
    due_at: dt.datetime | None = None
    retry: webpush.PushRetryable | mail.MailRetryable | None = None
    subscription: str = ""  # what it says of the device: "ok", "gone" or "failed"


def _record(
    delivery: Delivery,
    status: str | None = None,
    *,
    error_code: str = "",
    attempted: bool = False,
    sent_at: dt.datetime | None = None,
    due_at: dt.datetime | None = None,
) -> str:
    """One UPDATE for the outcome of one try."""
    values: dict[str, object] = {"error_code": error_code}
    if status is not None:
        values["status"] = status
    if attempted:
        values["attempts"] = F("attempts") + 1
    if sent_at is not None:
        values["sent_at"] = sent_at
    if due_at is not None:
        values["due_at"] = due_at
    Delivery.objects.filter(pk=delivery.pk).update(**values)
    return status or delivery.status


def _subscription_failed(subscription_id: int) -> None:
    PushSubscription.objects.filter(pk=subscription_id).update(failure_count=F("failure_count") + 1)
    PushSubscription.objects.filter(pk=subscription_id, failure_count__gte=MAX_PUSH_FAILURES).delete()


def _deliveries_load(delivery_ids: list[int]) -> tuple[list[Delivery], dict[int, NotificationPreference]]:
    """The deliveries (with their devices) and their residents' preferences: two queries for a batch.

    Preferences are read again at send time: a category switched off, an address removed or quiet hours
    begun since the message was made are honoured. The resident's own row is not read (a confirmation
    mail loads it for its link).
    """
    deliveries = list(
        Delivery.objects.select_related("subscription").filter(pk__in=delivery_ids).order_by("pk")
    )
    waiting = [d for d in deliveries if d.status == DeliveryStatus.QUEUED]
    preferences = NotificationPreference.objects.filter(resident_id__in={d.resident_id for d in waiting})
    if all(d.channel == Channel.PUSH for d in waiting):
        preferences = preferences.defer("email", "email_pending")  # pushes never decrypt the addresses
    by_resident = {p.resident_id: p for p in preferences} if waiting else {}
    return deliveries, by_resident


def _attempt(delivery: Delivery, preference: NotificationPreference, *, gone: set[int]) -> _Attempt:
    """Tries one queued delivery. Never raises for this delivery's own trouble, so that a batch goes on."""
    try:
        if delivery.channel == Channel.PUSH:
            return _push(delivery, preference, gone=gone)
        return _mail(delivery, preference)
    except SoftTimeLimitExceeded:
        raise
    except Exception:
        # A fault of ours or a client's, not the push service's answer: this delivery fails, the rest go on.
        logger.exception("notification %s could not be sent", delivery.pk)
        return _Attempt(
            delivery,
            DeliveryStatus.FAILED,
            error_code="internal_error",
            attempted=True,
            subscription="failed",
        )


def _push(delivery: Delivery, preference: NotificationPreference, *, gone: set[int]) -> _Attempt:
    subscription = delivery.subscription
    if subscription is None or subscription.resident_id != delivery.resident_id or subscription.pk in gone:
        return _Attempt(delivery, DeliveryStatus.SKIPPED, error_code="no_subscription")
    if delivery.category not in preference.push_categories:
        return _Attempt(delivery, DeliveryStatus.SKIPPED, error_code="preference")
    now = timezone.now()
    until = quiet_until(at=now, start=preference.quiet_start, end=preference.quiet_end)
    if until is not None:
        return _Attempt(delivery, DeliveryStatus.HELD, due_at=until)
    try:
        webpush.push_send(
            endpoint=subscription.endpoint,
            p256dh=subscription.p256dh,
            auth=subscription.auth,
            payload=push_payload(kind=delivery.kind, url=delivery.url, language=preference.language),
            topic=delivery.kind.replace("_", "-"),
            ttl=settings.WEBPUSH_TTL_SECONDS,
        )
    except webpush.PushGone as exc:
        # The browser unsubscribed or the push service forgot it (RFC 8030 7.3): never try it again.
        gone.add(subscription.pk)
        return _Attempt(
            delivery, DeliveryStatus.GONE, error_code=exc.code, attempted=True, subscription="gone"
        )
    except webpush.PushRefused as exc:
        return _Attempt(
            delivery, DeliveryStatus.FAILED, error_code=exc.code, attempted=True, subscription="failed"
        )
    except webpush.PushRetryable as exc:
        return _Attempt(delivery, None, error_code=exc.code, attempted=True, retry=exc)
    return _Attempt(delivery, DeliveryStatus.SENT, attempted=True, sent_at=now, subscription="ok")


def _mail(delivery: Delivery, preference: NotificationPreference) -> _Attempt:
    if delivery.kind == EMAIL_CONFIRMATION:
        address = preference.email_pending
    else:
        address = preference.email_in_use
        if address and delivery.category not in preference.email_categories:
            return _Attempt(delivery, DeliveryStatus.SKIPPED, error_code="preference")
    if not address:
        return _Attempt(delivery, DeliveryStatus.SKIPPED, error_code="no_address")
    try:
        if delivery.kind == EMAIL_CONFIRMATION:
            token = email_confirm_token(resident=delivery.resident, address=address)
            mail.confirmation_mail_send(
                to=address, confirm_path=f"/settings/notifications/email/confirm/{token}/"
            )
        else:
            mail.notice_mail_send(to=address, kind=delivery.kind, url=delivery.url)
    except mail.MailRefused as exc:
        return _Attempt(delivery, DeliveryStatus.FAILED, error_code=exc.code, attempted=True)
    except mail.MailRetryable as exc:
        return _Attempt(delivery, None, error_code=exc.code, attempted=True, retry=exc)
    return _Attempt(delivery, DeliveryStatus.SENT, attempted=True, sent_at=timezone.now())


def _attempts_record(attempts: list[_Attempt]) -> None:
    """Writes a batch's outcomes (the caller's transaction makes them one commit): the sent ones in one
    UPDATE (each with its own sent_at), the devices that answered in another, the rarer rest one by one."""
    now = timezone.now()
    sent = [a for a in attempts if a.status == DeliveryStatus.SENT]
    if sent:
        Delivery.objects.filter(pk__in=[a.delivery.pk for a in sent]).update(
            status=DeliveryStatus.SENT,
            error_code="",
            attempts=F("attempts") + 1,
            sent_at=Case(*(When(pk=a.delivery.pk, then=Value(a.sent_at)) for a in sent)),
        )
    for a in attempts:
        if a.status != DeliveryStatus.SENT:
            # A try to be repeated is a sign of life: the lost-task sweep waits a whole stall from it, so
            # a delivery between its retries is never taken for lost.
            due_at = now if a.retry is not None else a.due_at
            _record(a.delivery, a.status, error_code=a.error_code, attempted=a.attempted, due_at=due_at)
    answered = {
        s.pk
        for a in attempts
        if a.subscription == "ok"
        and (s := a.delivery.subscription) is not None
        # At most once a minute per device: a burst of messages does not rewrite the row each time.
        and (
            s.failure_count or s.last_success_at is None or now - s.last_success_at > dt.timedelta(minutes=1)
        )
    }
    if answered:
        PushSubscription.objects.filter(pk__in=answered).update(last_success_at=now, failure_count=0)
    gone = {a.delivery.subscription_id for a in attempts if a.subscription == "gone"}
    if gone:
        PushSubscription.objects.filter(pk__in=gone).delete()
    for a in attempts:
        if a.subscription == "failed" and a.delivery.subscription_id is not None:
            _subscription_failed(a.delivery.subscription_id)


def delivery_send(*, delivery_id: int) -> str:
    """Sends one queued delivery and returns its status; anything not queued is left as it is.

    The send_delivery task's service (a retry): raises webpush.PushRetryable or mail.MailRetryable when
    the send should be tried again later.
    """
    deliveries, preferences = _deliveries_load([delivery_id])
    if not deliveries:
        return "missing"
    (delivery,) = deliveries
    if delivery.status != DeliveryStatus.QUEUED:
        return delivery.status
    preference = preferences.get(delivery.resident_id) or NotificationPreference(
        resident_id=delivery.resident_id
    )
    attempt = _attempt(delivery, preference, gone=set())
    with transaction.atomic():
        _attempts_record([attempt])
    if attempt.retry is not None:
        raise attempt.retry
    return attempt.status or delivery.status


def deliveries_send(*, delivery_ids: list[int], seconds: float = SEND_BATCH_SECONDS) -> dict[str, int]:
    """Sends a batch of deliveries, each on its own, and returns how many ended in each status.

    What is not queued any more is left as it is (a task run twice sends nothing twice). One delivery's
    trouble never stops the others: a device that is gone, a refusal or a fault of ours ends that delivery
    only, and one the push service or mail server asks to try later goes on as its own send_delivery task,
    with the same back-off and number of tries as if it had failed there. Two queries read the batch, one
    transaction writes the outcomes after the sends (none is held open across the network). Sends start
    only for `seconds`; whatever is left then, or after an interruption, is queued again as a new batch.
    """
    deadline = monotonic() + seconds
    deliveries, preferences = _deliveries_load(delivery_ids)
    waiting = [d for d in deliveries if d.status == DeliveryStatus.QUEUED]
    counts: dict[str, int] = {}
    for delivery in deliveries:
        if delivery.status != DeliveryStatus.QUEUED:
            counts[delivery.status] = counts.get(delivery.status, 0) + 1
    attempts: list[_Attempt] = []
    gone: set[int] = set()
    try:
        for delivery in waiting:
            if monotonic() > deadline:
                break
            preference = preferences.get(delivery.resident_id) or NotificationPreference(
                resident_id=delivery.resident_id
            )
            attempts.append(_attempt(delivery, preference, gone=gone))
    finally:
        # Also when interrupted (a time limit): what was sent is recorded, the rest queued again.
        with transaction.atomic():
            _attempts_record(attempts)
            _retry_on_commit([a.delivery.pk for a in attempts if a.retry is not None])
            left_ids = [d.pk for d in waiting[len(attempts) :]]
            if left_ids:
                # Queued again, at the back of the queue: the lost-task sweep waits a stall from now.
                Delivery.objects.filter(pk__in=left_ids, status=DeliveryStatus.QUEUED).update(
                    due_at=timezone.now()
                )
            _queue_on_commit(left_ids)
    for attempt in attempts:
        status = attempt.status or DeliveryStatus.QUEUED
        counts[status] = counts.get(status, 0) + 1
    left = len(waiting) - len(attempts)
    if left:
        counts["requeued"] = left
    return counts


def delivery_gave_up(*, delivery_id: int) -> None:
    """Retries ran out: the delivery says so (with its last error), for staff and the resident's page."""
    delivery = Delivery.objects.filter(pk=delivery_id).first()
    if delivery is None or delivery.status != DeliveryStatus.QUEUED:
        return
    if delivery.subscription_id is not None:
        _subscription_failed(delivery.subscription_id)
    Delivery.objects.filter(pk=delivery_id, status=DeliveryStatus.QUEUED).update(status=DeliveryStatus.FAILED)


def deliveries_owed(*, cutoff: dt.datetime, now: dt.datetime) -> QuerySet[Delivery]:
    """Deliveries that wait for a task none is on its way for: held ones now due (quiet hours over, a
    disclosure date reached), and queued ones with no sign of life (queued, tried) since ``cutoff``, lost
    on the way to a worker. The lost-task sweep's kind ``notify.delivery``."""
    return (
        Delivery.objects.filter(
            Q(status=DeliveryStatus.HELD, due_at__lte=now)
            | Q(status=DeliveryStatus.QUEUED, due_at__lte=cutoff)
        )
        .only("pk", "status")
        .order_by("due_at")
    )


def deliveries_send_again(deliveries: list[Delivery], *, now: dt.datetime) -> dict[str, int]:
    """Marks the deliveries queued now (so the next sweep waits a whole stall) and queues them, SEND_BATCH
    to a task, once the sweep commits: the batch task reads its deliveries without a lock and must find
    them queued. Nothing goes twice: the task sends only what is still queued when it runs."""
    ids = [d.pk for d in deliveries]
    for start in range(0, len(ids), SWEEP_UPDATE_CHUNK):
        Delivery.objects.filter(
            pk__in=ids[start : start + SWEEP_UPDATE_CHUNK],
            status__in=[DeliveryStatus.HELD, DeliveryStatus.QUEUED],
        ).update(status=DeliveryStatus.QUEUED, due_at=now)
    _queue_on_commit(ids)
    released = sum(1 for d in deliveries if d.status == DeliveryStatus.HELD)
    counts = {RELEASED: released, SENT_AGAIN: len(ids) - released}
    return {outcome: count for outcome, count in counts.items() if count}
