"""日次ルート: each day's signed root over every resident's chain, published for anyone to keep.

For one day (Asia/Tokyo) the root is SHA-256 over the sorted lines "<owner public_id>:<seq>:<record_hash>",
one per resident: the last record of their chain made before the day ended. The portal signs the day, the
counts and the root with its Ed25519 key. A copy kept elsewhere lets anyone show later that no chain was
rewritten after that day, even by someone able to recompute every hash in the database. What is published
holds no personal data: no public id, no name, only counts and hashes (docs/history-export.md).
"""

import base64
import datetime as dt
import hashlib
import logging
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from zoneinfo import ZoneInfo

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import IntegrityError, transaction
from django.db.models import CharField, OuterRef, Subquery, Value
from django.db.models.functions import Cast, Concat
from django.utils import timezone

from portal.core.errors import PortalError
from portal.core.keyfiles import private_key_read
from portal.history.models import DailyRoot, ReleaseRecord
from portal.identity.models import Resident

logger = logging.getLogger(__name__)

JST = ZoneInfo("Asia/Tokyo")
SIGNED_PREFIX = "myna-portal:history-root:v1"
CHUNK_ROWS = 5000


@dataclass(frozen=True)
class RootFigures:
    """What a day's root says: how many chains, how many records, and the hash over them."""

    chain_count: int
    record_count: int
    root_hash: str


# --- the key ---------------------------------------------------------------------------------------------


def _key_path() -> Path:
    return Path(settings.HISTORY_ROOT_KEY_FILE)


@lru_cache(maxsize=4)
def _load_key(path: str) -> Ed25519PrivateKey:
    key = private_key_read(
        path,
        setting="HISTORY_ROOT_KEY",
        generate=Ed25519PrivateKey.generate,
        what="The history root signing key",
    )
    if not isinstance(key, Ed25519PrivateKey):
        raise ImproperlyConfigured(f"{path} is not an Ed25519 private key.")
    return key


def signing_key() -> Ed25519PrivateKey:
    return _load_key(str(_key_path()))


def public_key() -> Ed25519PublicKey:
    return signing_key().public_key()


def public_key_pem() -> bytes:
    return public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def key_id_of(key: Ed25519PublicKey) -> str:
    """The first 16 hex digits of SHA-256 over the raw 32-byte public key."""
    raw = key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:16]


# --- the root --------------------------------------------------------------------------------------------


def day_end(day: dt.date) -> dt.datetime:
    """The first moment after `day` in Japan."""
    return dt.datetime.combine(day + dt.timedelta(days=1), dt.time.min, tzinfo=JST)


def signed_message(*, day: dt.date, figures: RootFigures) -> bytes:
    """The exact bytes signed, one field a line: anyone can rebuild them from the published values."""
    return (
        f"{SIGNED_PREFIX}\n{day.isoformat()}\n{figures.chain_count}\n{figures.record_count}\n"
        f"{figures.root_hash}\n"
    ).encode()


def daily_root_compute(*, day: dt.date) -> RootFigures:
    """Recomputes a day's figures from the records as they are now (read-only)."""
    end = day_end(day)
    last = ReleaseRecord.objects.filter(owner=OuterRef("pk"), occurred_at__lt=end).order_by("-seq")
    text = CharField()
    last_line = last.annotate(
        line=Concat(Cast("seq", output_field=text), Value(":"), "record_hash", output_field=text)
    ).values("line")[:1]
    lines = (
        Resident.objects.annotate(last_line=Subquery(last_line))
        .filter(last_line__isnull=False)
        .order_by("public_id")
        .values_list("public_id", "last_line")
        .iterator(chunk_size=CHUNK_ROWS)
    )
    digest = hashlib.sha256()
    chain_count = 0
    previous = ""
    for public_id, line in lines:
        owner = str(public_id)
        # The database sorts UUIDs as their canonical text sorts; the hash needs that order exactly.
        if owner <= previous:
            raise AssertionError("residents did not come in public-id order")
        previous = owner
        digest.update(f"{owner}:{line}\n".encode())
        chain_count += 1
    record_count = ReleaseRecord.objects.filter(occurred_at__lt=end).count()
    return RootFigures(chain_count=chain_count, record_count=record_count, root_hash=digest.hexdigest())


def daily_root_publish(*, day: dt.date) -> DailyRoot:
    """Computes, signs and stores the root of `day` once; later calls return the stored root unchanged."""
    existing = DailyRoot.objects.filter(day=day).first()
    if existing is not None:
        return existing
    if day >= timezone.localdate(timezone=JST):
        raise PortalError(
            "day_not_over",
            "その日はまだ終わっていません。",
            "That day is not over yet.",
            400,
        )
    figures = daily_root_compute(day=day)
    key = signing_key()
    signature = key.sign(signed_message(day=day, figures=figures))
    try:
        with transaction.atomic():
            return DailyRoot.objects.create(
                day=day,
                chain_count=figures.chain_count,
                record_count=figures.record_count,
                root_hash=figures.root_hash,
                key_id=key_id_of(key.public_key()),
                signature=base64.b64encode(signature).decode(),
            )
    except IntegrityError:
        # Another worker published the same day first; theirs stands.
        return DailyRoot.objects.get(day=day)


# How far back a run makes up for days whose run was lost; older gaps stay gaps and are logged.
CATCH_UP_DAYS = 7


def daily_roots_publish_due(*, today: dt.date | None = None) -> list[DailyRoot]:
    """Yesterday's root (made now, or the one made before), and those of the days before it that have none
    since the last one published (a run lost with the broker, a beat that was down at 00:10), oldest first,
    at most CATCH_UP_DAYS.

    A root made late still covers only its own day's records; ``created_at`` shows that it came late.
    """
    today = today or timezone.localdate(timezone=JST)
    yesterday = today - dt.timedelta(days=1)
    last = DailyRoot.objects.filter(day__lt=today).order_by("-day").values_list("day", flat=True).first()
    first = yesterday if last is None else min(last + dt.timedelta(days=1), yesterday)
    oldest = yesterday - dt.timedelta(days=CATCH_UP_DAYS - 1)
    if first < oldest:
        logger.error(
            "daily roots of %s to %s missing: too old to publish now", first, oldest - dt.timedelta(days=1)
        )
        first = oldest
    published = []
    day = first
    while day <= yesterday:
        if day < yesterday:
            logger.warning("daily root of %s published late", day)
        published.append(daily_root_publish(day=day))
        day += dt.timedelta(days=1)
    return published


def daily_root_problems(root: DailyRoot) -> list[str]:
    """What is wrong with a published root: its signature, or its figures against the records now."""
    problems = []
    figures = RootFigures(
        chain_count=root.chain_count, record_count=root.record_count, root_hash=root.root_hash
    )
    key = public_key()
    if root.key_id != key_id_of(key):
        problems.append(f"signed with key {root.key_id}, not the current key {key_id_of(key)}")
    else:
        try:
            key.verify(base64.b64decode(root.signature), signed_message(day=root.day, figures=figures))
        except (InvalidSignature, ValueError):
            problems.append("signature does not verify")
    recomputed = daily_root_compute(day=root.day)
    if recomputed != figures:
        problems.append(
            "records no longer match: published "
            f"{root.chain_count} chains, {root.record_count} records, root {root.root_hash[:16]}; now "
            f"{recomputed.chain_count} chains, {recomputed.record_count} records, "
            f"root {recomputed.root_hash[:16]}"
        )
    return problems


def root_listing() -> list[dict[str, object]]:
    """The published roots as anyone may read them, oldest first."""
    return [
        {
            "day": root.day.isoformat(),
            "chain_count": root.chain_count,
            "record_count": root.record_count,
            "root_hash": root.root_hash,
            "key_id": root.key_id,
            "signature": root.signature,
        }
        for root in DailyRoot.objects.order_by("day")
    ]
