"""Lost tasks: work the database says is owed whose Celery message never ran, found and sent again.

Tasks are queued after the commit, to Redis. A Redis restarted without its data, a publish that failed
after the commit, or a worker gone for good loses the message while the row still says the work is on its
way. Each app that owes work names a *kind* in its ``lost_tasks.py`` (found by autodiscovery, as Django
finds ``admin.py``): which rows are still owed with no sign of life since a cutoff, and how to send one
again (or give it up, where the work no longer makes sense). One beat task sweeps every kind.

Sending again must never do the work twice: every task checks its row's state first and sends the same
Idempotency-Key, and every kind marks what it sent so the next sweep waits a whole stall again. Never
send anything here that a task would not: this module only re-queues.

Two kinds also queue work that waited in the database for its time, with no task on its way by design:
pushes held for quiet hours, and webhook deliveries whose retry back-off is over. They are owed from the
moment they fall due (not a stall later), and are counted as :data:`RELEASED`, routine, not lost.
"""

import logging
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import QuerySet
from django.utils.module_loading import autodiscover_modules

from portal.core.outages import BROKER_UNREACHABLE

logger = logging.getLogger(__name__)

#: The most rows of one kind one sweep sends again (unless the kind says otherwise); the beat runs every
#: minute, so a backlog drains.
SWEEP_BATCH = 500
#: What ``send_again`` returns.
SENT_AGAIN = "sent_again"
GIVEN_UP = "given_up"
#: Work that waited in the database for its time (quiet hours, a retry's back-off) and is due: queued
#: now, routine, not a lost task (logged as information, not as a warning).
RELEASED = "released"


@dataclass(frozen=True)
class LostTaskKind:
    """One kind of owed work.

    ``owed(cutoff=, now=)``: the rows whose work is still owed and that showed no sign of life (asked
    for, tried, sent again) since ``cutoff``, oldest first. ``send_again(row, now=)`` re-queues one row's
    task (inside the sweep's transaction, with the row locked) and marks the row so the next sweep
    leaves it alone for a whole stall; it returns :data:`SENT_AGAIN` or :data:`GIVEN_UP`. ``tasks``
    names the Celery tasks that do the work, so a test can check their retries fit inside the stall.

    A kind whose task takes many rows at once (deliveries to residents, sent in batches) gives
    ``send_again_many(rows, now=)`` instead, which sends one sweep's rows together and returns the
    count of each outcome; ``batch`` is how many rows one sweep takes of a kind. A kind whose task reads
    its rows without a lock queues it when the sweep commits (so that the task finds the mark), and a
    broker that refuses then leaves the rows marked, for the sweep after the next stall.
    """

    name: str
    owed: Callable[..., QuerySet[Any]]
    send_again: Callable[..., str] | None = None
    tasks: tuple[str, ...] = ()
    send_again_many: Callable[..., Mapping[str, int]] | None = None
    batch: int = SWEEP_BATCH

    def __post_init__(self) -> None:
        if (self.send_again is None) == (self.send_again_many is None):
            raise ValueError(f"lost-task kind {self.name} needs one of send_again and send_again_many")


_KINDS: dict[str, LostTaskKind] = {}


def lost_task_kind(kind: LostTaskKind) -> LostTaskKind:
    """Registers a kind (called at import of an app's ``lost_tasks.py``); the same name twice is a bug."""
    existing = _KINDS.get(kind.name)
    if existing is not None and existing != kind:
        raise ValueError(f"lost-task kind {kind.name} registered twice")
    _KINDS[kind.name] = kind
    return kind


def lost_task_kinds() -> dict[str, LostTaskKind]:
    autodiscover_modules("lost_tasks")
    return dict(sorted(_KINDS.items()))


def lost_task_stall() -> timedelta:
    """Work with no sign of life for this long lost its task (``LOST_TASK_STALL_SECONDS``, 15 minutes).

    Longer than the broker's visibility timeout (10 minutes), after which a dead worker's unacknowledged
    task comes back by itself, and than any task's longest retry back-off: only a message the broker
    itself lost waits this long.
    """
    return timedelta(seconds=settings.LOST_TASK_STALL_SECONDS)


def lost_tasks_recover(*, now: datetime, kinds: Iterable[str] | None = None) -> dict[str, dict[str, int]]:
    """Sends again (or gives up) the owed work of every kind whose task was lost; counts by kind.

    Each kind runs in its own transaction, and its tasks are sent inside it: a worker that picks one up
    at once waits on the row lock until the mark commits, and a broker that refuses rolls every mark of
    that kind back for the next sweep. Locked rows are skipped (a task is working on them now). One kind
    failing does not keep the others from their sweep.
    """
    registry = lost_task_kinds()
    names = list(registry) if kinds is None else list(kinds)
    cutoff = now - lost_task_stall()
    report: dict[str, dict[str, int]] = {}
    for name in names:
        kind = registry[name]
        counts: Counter[str] = Counter()
        try:
            with transaction.atomic():
                owed = kind.owed(cutoff=cutoff, now=now).select_for_update(skip_locked=True, of=("self",))
                rows = list(owed[: kind.batch])
                if kind.send_again_many is not None:
                    if rows:
                        counts.update(kind.send_again_many(rows, now=now))
                elif kind.send_again is not None:  # one of the two, always (__post_init__)
                    for row in rows:
                        counts[kind.send_again(row, now=now)] += 1
        except BROKER_UNREACHABLE as exc:
            logger.warning("lost tasks of %s not sent again, the broker is unreachable: %r", name, exc)
            counts = Counter({"broker_unreachable": 1})
        except Exception:
            logger.exception("lost-task sweep of %s failed", name)
            counts = Counter({"error": 1})
        if set(counts) - {RELEASED}:
            logger.warning("lost tasks of %s: %s", name, dict(counts))
        elif counts:
            logger.info("due work of %s queued: %s", name, dict(counts))
        report[name] = dict(counts)
    return report
