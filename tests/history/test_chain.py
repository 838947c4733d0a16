"""The access-history core: recorded before release, hash-chained per resident, append-only on PostgreSQL."""

import itertools
import threading

import pytest
from django.db import DatabaseError, connection, transaction

from portal.history.models import ActorType, ChainHead, Channel, ReleaseRecord
from portal.history.selectors import chain_first_broken_seq
from portal.history.services import GENESIS_HASH, Actor, release_record
from tests.factories import ResidentFactory

AGENCY = Actor(type=ActorType.AGENCY, ref="municipal-resident", label="デモ市 市民課")


def _release(resident, purpose: str = "test") -> ReleaseRecord:
    return release_record(
        owner=resident,
        actor=AGENCY,
        category="household",
        items=["members"],
        purpose=purpose,
        channel=Channel.AGENCY_API,
    )


def _bypassing_the_trigger(sql: str, params: list) -> None:
    """What an attacker with database superuser rights could do: triggers off, then edit."""
    with connection.cursor() as cursor:
        cursor.execute("SET session_replication_role = replica")
        try:
            cursor.execute(sql, params)
        finally:
            cursor.execute("SET session_replication_role = DEFAULT")


@pytest.fixture
def chained(db):
    resident = ResidentFactory()
    records = [_release(resident, purpose=f"purpose {n}") for n in range(1, 6)]
    return resident, records


def test_records_link_into_a_chain(chained):
    resident, records = chained
    assert [r.seq for r in records] == [1, 2, 3, 4, 5]
    assert records[0].prev_hash == GENESIS_HASH
    assert all(b.prev_hash == a.record_hash for a, b in itertools.pairwise(records))
    assert ChainHead.objects.get(owner=resident).head_hash == records[-1].record_hash
    assert chain_first_broken_seq(owner=resident) is None


def test_each_resident_has_their_own_chain(chained):
    other = ResidentFactory()
    assert _release(other).seq == 1
    assert chain_first_broken_seq(owner=other) is None


def test_database_refuses_update_and_delete(chained):
    _, records = chained
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        ReleaseRecord.objects.filter(pk=records[0].pk).update(purpose="edited")
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        ReleaseRecord.objects.filter(pk=records[0].pk).delete()
    assert ReleaseRecord.objects.get(pk=records[0].pk).purpose == "purpose 1"


def test_edited_row_is_detected(chained):
    resident, records = chained
    _bypassing_the_trigger("UPDATE history_releaserecord SET purpose = 'x' WHERE id = %s", [records[2].pk])
    assert chain_first_broken_seq(owner=resident) == 3


def test_deleted_row_is_detected(chained):
    resident, records = chained
    _bypassing_the_trigger("DELETE FROM history_releaserecord WHERE id = %s", [records[1].pk])
    assert chain_first_broken_seq(owner=resident) == 2


def test_deleted_tail_is_detected(chained):
    resident, records = chained
    _bypassing_the_trigger("DELETE FROM history_releaserecord WHERE id = %s", [records[4].pk])
    assert chain_first_broken_seq(owner=resident) == 5


def test_reordered_rows_are_detected(chained):
    resident, _records = chained
    swap = "UPDATE history_releaserecord SET seq = %s WHERE owner_id = %s AND seq = %s"
    for new, old in ((1002, 2), (2, 3), (3, 1002)):
        _bypassing_the_trigger(swap, [new, resident.pk, old])
    assert chain_first_broken_seq(owner=resident) == 2


def test_inserted_row_is_detected(chained):
    resident, records = chained
    forged = records[2]
    _bypassing_the_trigger(
        "UPDATE history_releaserecord SET seq = seq + 1 WHERE owner_id = %s AND seq >= 3", [resident.pk]
    )
    ReleaseRecord.objects.create(
        owner=resident,
        seq=3,
        actor_type=forged.actor_type,
        actor_ref=forged.actor_ref,
        actor_label=forged.actor_label,
        category="tax",
        items=[],
        purpose="forged",
        channel=forged.channel,
        occurred_at=forged.occurred_at,
        prev_hash=records[1].record_hash,
        record_hash="f" * 64,
    )
    assert chain_first_broken_seq(owner=resident) == 3


def test_release_inside_a_transaction_is_refused(db):
    """A record that a caller's rollback could undo is no record: the core insists on its own commit."""
    resident = ResidentFactory()
    with pytest.raises(RuntimeError), transaction.atomic():
        _release(resident)


@pytest.mark.django_db(transaction=True)
def test_concurrent_releases_never_fork_the_chain():
    resident = ResidentFactory()
    errors: list[BaseException] = []

    def worker() -> None:
        try:
            for _ in range(10):
                _release(resident)
        except BaseException as exc:  # surfaced below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    assert sorted(ReleaseRecord.objects.filter(owner=resident).values_list("seq", flat=True)) == list(
        range(1, 41)
    )
    assert chain_first_broken_seq(owner=resident) is None


@pytest.mark.django_db
def test_dashboard_records_before_it_shows_the_name(client, trusted_jpki):
    from tests.helpers import login_with_card

    login_with_card(client, trusted_jpki, "yamada-hanako")
    before = ReleaseRecord.objects.count()
    page = client.get("/")
    assert "山田 花子" in page.content.decode()
    record = ReleaseRecord.objects.latest("id")
    assert ReleaseRecord.objects.count() == before + 1
    assert (record.category, record.actor_type, record.purpose) == ("identity", "resident", "dashboard")


@pytest.mark.django_db
def test_dashboard_shows_nothing_if_the_record_cannot_be_written(client, trusted_jpki, monkeypatch):
    from portal.dashboard import views
    from tests.helpers import login_with_card

    login_with_card(client, trusted_jpki, "yamada-hanako")

    def failing_record(**kwargs):
        raise DatabaseError("history unavailable")

    monkeypatch.setattr(views, "release_record", failing_record)
    client.raise_request_exception = False
    page = client.get("/")
    assert page.status_code == 500
    assert "山田 花子" not in page.content.decode()
    assert "history unavailable" not in page.content.decode()


def test_history_is_partitioned_by_month_on_postgresql(chained):
    resident, records = chained
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT DISTINCT tableoid::regclass::text FROM history_releaserecord WHERE owner_id = %s",
            [resident.pk],
        )
        partitions = {row[0] for row in cursor.fetchall()}
    assert partitions == {f"history_releaserecord_{records[0].occurred_at:%Y%m}"}


def test_partitions_are_made_ahead_of_time(db):
    from portal.history.services import partitions_ensure_ahead

    names = partitions_ensure_ahead(months=4)
    assert len(names) == 5
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM history_releaserecord_default")
        assert cursor.fetchone()[0] == 0


def test_database_and_python_appends_make_the_same_chain(db):
    """history_append (PostgreSQL) and the ORM path (SQLite) must hash alike, or one could not verify."""
    from portal.history import services

    resident = ResidentFactory()
    for n in range(6):
        append = services._append_in_database if n % 2 else services._append
        with transaction.atomic():
            append(resident, AGENCY, "household", ["members"], f"p{n}", Channel.AGENCY_API, "", None)
    assert chain_first_broken_seq(owner=resident) is None
    assert ChainHead.objects.get(owner=resident).seq == 6
