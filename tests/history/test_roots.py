"""The signed daily root: what it covers, its signature, its idempotency, and what it reveals later."""

import base64
import datetime as dt
import hashlib
import io

import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from django.core.exceptions import ImproperlyConfigured
from django.core.management import CommandError, call_command
from django.db import connection
from django.utils import timezone

from portal.core.errors import PortalError
from portal.history import roots, tasks, verification
from portal.history.models import DailyRoot, ReleaseRecord
from tests.factories import ResidentFactory
from tests.history.tampering import bypassing_the_trigger, release, rewrite_chain

pytestmark = pytest.mark.django_db

TODAY = timezone.localdate(timezone=roots.JST)
DAY = TODAY - dt.timedelta(days=2)  # a day that is over


def _at(day: dt.date, hour: int) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(hour), tzinfo=roots.JST)


@pytest.fixture(autouse=True)
def root_key(settings, tmp_path):
    settings.HISTORY_ROOT_KEY_FILE = str(tmp_path / "keys" / "history-root.pem")
    return settings.HISTORY_ROOT_KEY_FILE


@pytest.fixture
def history():
    """Two residents with records on DAY and after it, and one resident whose history starts later."""
    alice, bob, late = ResidentFactory(), ResidentFactory(), ResidentFactory()
    for hour in (9, 12, 23):
        release(alice, purpose=f"alice {hour}", at=_at(DAY, hour))
    release(bob, purpose="bob", at=_at(DAY, 8))
    # 00:00 in Tokyo the next day is no longer DAY, though it is still DAY in UTC.
    release(alice, purpose="alice next day", at=_at(DAY + dt.timedelta(days=1), 0))
    release(late, purpose="late", at=_at(DAY + dt.timedelta(days=1), 10))
    release(bob, purpose="bob today")
    return alice, bob, late


def _expected_root(residents_and_seqs) -> str:
    lines = []
    for resident, seq in residents_and_seqs:
        record = ReleaseRecord.objects.get(owner=resident, seq=seq)
        lines.append(f"{resident.public_id}:{seq}:{record.record_hash}\n")
    return hashlib.sha256("".join(sorted(lines)).encode()).hexdigest()


def _verify() -> tuple[int, str]:
    out = io.StringIO()
    try:
        call_command("verify_history", stdout=out)
    except CommandError as error:
        return error.returncode, out.getvalue() + str(error)
    return 0, out.getvalue()


def test_root_covers_each_chains_last_record_before_the_day_ended(history):
    alice, bob, _late = history
    root = roots.daily_root_publish(day=DAY)
    assert (root.day, root.chain_count, root.record_count) == (DAY, 2, 4)
    assert root.root_hash == _expected_root([(alice, 3), (bob, 1)])


def test_root_is_signed_with_the_published_key(history, client):
    root = roots.daily_root_publish(day=DAY)
    pem = roots.public_key_pem()
    key = serialization.load_pem_public_key(pem)
    raw = key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    assert root.key_id == hashlib.sha256(raw).hexdigest()[:16]
    message = (
        f"myna-portal:history-root:v1\n{DAY.isoformat()}\n{root.chain_count}\n{root.record_count}\n"
        f"{root.root_hash}\n"
    ).encode()
    key.verify(base64.b64decode(root.signature), message)  # raises if it does not verify
    with pytest.raises(InvalidSignature):
        key.verify(base64.b64decode(root.signature), message.replace(b"\n2\n", b"\n3\n"))


def test_publishing_twice_returns_the_first_root(history):
    first = roots.daily_root_publish(day=DAY)
    release(
        history[1], purpose="bob, even later", at=_at(DAY, 22)
    )  # a late arrival changes nothing published
    second = roots.daily_root_publish(day=DAY)
    assert second.pk == first.pk and second.root_hash == first.root_hash
    assert DailyRoot.objects.count() == 1


def test_a_day_that_is_not_over_is_refused(history):
    for day in (TODAY, TODAY + dt.timedelta(days=1)):
        with pytest.raises(PortalError) as error:
            roots.daily_root_publish(day=day)
        assert error.value.code == "day_not_over"
    assert not DailyRoot.objects.exists()


def test_a_day_before_any_record_has_an_empty_root(db):
    root = roots.daily_root_publish(day=DAY - dt.timedelta(days=30))
    assert (root.chain_count, root.record_count, root.root_hash) == (0, 0, hashlib.sha256(b"").hexdigest())


def test_the_task_publishes_yesterday_once(history):
    first = tasks.publish_daily_root()
    second = tasks.publish_daily_root()
    yesterday = TODAY - dt.timedelta(days=1)
    root_hash = DailyRoot.objects.get().root_hash
    assert first == second == {"day": yesterday.isoformat(), "root_hash": root_hash, "late": []}


def test_days_whose_run_was_lost_are_published_late_oldest_first(history, caplog):
    roots.daily_root_publish(day=DAY - dt.timedelta(days=3))
    published = roots.daily_roots_publish_due(today=TODAY)
    days = [DAY - dt.timedelta(days=2), DAY - dt.timedelta(days=1), DAY, TODAY - dt.timedelta(days=1)]
    assert [root.day for root in published] == days
    assert DailyRoot.objects.count() == 5
    # A late root covers its own day only: the same as one made on time.
    assert DailyRoot.objects.get(day=DAY).root_hash == roots.daily_root_compute(day=DAY).root_hash
    assert "published late" in caplog.text
    assert roots.daily_roots_publish_due(today=TODAY) == [DailyRoot.objects.get(day=TODAY - dt.timedelta(1))]


def test_catching_up_goes_back_a_week_at_most(db, caplog):
    roots.daily_root_publish(day=TODAY - dt.timedelta(days=30))
    published = roots.daily_roots_publish_due(today=TODAY)
    assert [root.day for root in published] == [
        TODAY - dt.timedelta(days=n) for n in range(roots.CATCH_UP_DAYS, 0, -1)
    ]
    assert "missing: too old to publish now" in caplog.text
    assert not DailyRoot.objects.filter(day=TODAY - dt.timedelta(days=roots.CATCH_UP_DAYS + 1)).exists()


def test_a_first_run_publishes_yesterday_only(history):
    assert [root.day for root in roots.daily_roots_publish_due(today=TODAY)] == [TODAY - dt.timedelta(1)]


def test_beat_asks_for_the_root_every_hour(settings):
    from celery.schedules import crontab

    from portal.celery import app

    entry = next(
        e for e in settings.CELERY_BEAT_SCHEDULE.values() if e["task"] == "history.publish_daily_root"
    )
    assert entry["schedule"] == crontab(minute=10)  # runs after a lost one make it up within the hour
    assert "history.publish_daily_root" in app.tasks


# --- what verify_history finds ------------------------------------------------------------------------


def test_verify_history_accepts_intact_roots(history):
    roots.daily_root_publish(day=DAY)
    roots.daily_root_publish(day=DAY + dt.timedelta(days=1))
    status, output = _verify()
    assert status == 0
    assert "and 2 daily roots" in output


def test_older_roots_can_be_left_out(history):
    roots.daily_root_publish(day=DAY)
    roots.daily_root_publish(day=DAY + dt.timedelta(days=1))
    DailyRoot.objects.filter(day=DAY).update(root_hash="0" * 64)
    out = io.StringIO()
    call_command("verify_history", "--roots-since", (DAY + dt.timedelta(days=1)).isoformat(), stdout=out)
    assert "and 1 daily roots" in out.getvalue()
    assert _verify()[0] == 1


def test_a_chain_recomputed_with_raw_sql_passes_the_chain_check_but_not_the_root(history):
    alice, _bob, _late = history
    roots.daily_root_publish(day=DAY)
    roots.daily_root_publish(day=DAY + dt.timedelta(days=1))
    first = ReleaseRecord.objects.get(owner=alice, seq=1)
    bypassing_the_trigger("UPDATE history_releaserecord SET purpose = 'harmless' WHERE id = %s", [first.pk])
    rewrite_chain(alice)
    with verification.snapshot():
        assert list(verification.chains_verify()) == []  # every link verifies again
    status, output = _verify()
    assert status == 1
    assert "resident " not in output  # no chain is broken ...
    assert f"root of {DAY.isoformat()}: records no longer match" in output  # ... but both days say otherwise
    assert f"root of {(DAY + dt.timedelta(days=1)).isoformat()}: records no longer match" in output
    assert "2 problems with daily roots" in output


def test_a_deleted_record_changes_the_count(history):
    _alice, bob, _late = history
    roots.daily_root_publish(day=DAY)
    bypassing_the_trigger("DELETE FROM history_releaserecord WHERE owner_id = %s", [bob.pk])
    status, output = _verify()
    assert status == 1
    assert "published 2 chains, 4 records" in output and "now 1 chains, 3 records" in output


def test_a_forged_root_fails_its_signature(history):
    alice, _bob, _late = history
    root = roots.daily_root_publish(day=DAY)
    # The attacker rewrites a chain and the stored root to match, but cannot sign.
    bypassing_the_trigger(
        "UPDATE history_releaserecord SET purpose = 'x' WHERE owner_id = %s AND seq = 1", [alice.pk]
    )
    rewrite_chain(alice)
    forged = roots.daily_root_compute(day=DAY)
    DailyRoot.objects.filter(pk=root.pk).update(root_hash=forged.root_hash)
    status, output = _verify()
    assert status == 1
    assert f"root of {DAY.isoformat()}: signature does not verify" in output
    assert "records no longer match" not in output


def test_a_root_signed_by_another_key_is_reported(history, settings, tmp_path):
    roots.daily_root_publish(day=DAY)
    settings.HISTORY_ROOT_KEY_FILE = str(tmp_path / "other.pem")
    status, output = _verify()
    assert status == 1
    assert "not the current key" in output


# --- the key ------------------------------------------------------------------------------------------------


def test_demo_and_test_make_the_key_once_readable_only_by_the_owner(root_key):
    from pathlib import Path

    first = roots.public_key_pem()
    path = Path(root_key)
    assert path.stat().st_mode & 0o777 == 0o600
    roots._load_key.cache_clear()
    assert roots.public_key_pem() == first


def test_production_never_makes_a_key(settings, tmp_path):
    settings.PRODUCTION = True
    settings.HISTORY_ROOT_KEY_FILE = str(tmp_path / "missing.pem")
    with pytest.raises(ImproperlyConfigured, match="HISTORY_ROOT_KEY"):
        roots.signing_key()
    assert not (tmp_path / "missing.pem").exists()


# --- the public endpoints ----------------------------------------------------------------------------------


@pytest.mark.urls("tests.history.root_urls")
def test_anyone_can_read_the_roots_without_logging_in(history, client):
    root = roots.daily_root_publish(day=DAY)
    response = client.get("/history/roots/")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    assert "public" in response["Cache-Control"]
    assert response.json() == [
        {
            "day": DAY.isoformat(),
            "chain_count": 2,
            "record_count": 4,
            "root_hash": root.root_hash,
            "key_id": root.key_id,
            "signature": root.signature,
        }
    ]
    body = response.content.decode()
    for resident in history:
        assert str(resident.public_id) not in body and resident.name not in body


@pytest.mark.urls("tests.history.root_urls")
def test_the_public_key_verifies_what_the_list_says(history, client):
    roots.daily_root_publish(day=DAY)
    listed = client.get("/history/roots/").json()[0]
    response = client.get("/history/roots/public-key.pem")
    assert response.status_code == 200
    assert response.content.startswith(b"-----BEGIN PUBLIC KEY-----")
    key = serialization.load_pem_public_key(response.content)
    message = (
        f"myna-portal:history-root:v1\n{listed['day']}\n{listed['chain_count']}\n{listed['record_count']}\n"
        f"{listed['root_hash']}\n"
    ).encode()
    key.verify(base64.b64decode(listed["signature"]), message)
    assert response["X-Key-Id"] == listed["key_id"]
    assert client.post("/history/roots/").status_code == 405


def test_root_lines_are_in_the_order_of_the_canonical_text(db):
    """UUIDs sort in the database as their text does; the root depends on that order."""
    people = [ResidentFactory() for _ in range(12)]
    for person in people:
        release(person, at=_at(DAY, 10))
    root = roots.daily_root_compute(day=DAY)
    assert root.root_hash == _expected_root([(person, 1) for person in people])
    assert connection.vendor == "postgresql"
