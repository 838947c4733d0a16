"""verify_history: a clean history passes; each kind of tampering fails it, naming resident and seq."""

import datetime as dt
import io

import pytest
from django.core.management import CommandError, call_command
from django.db import connection

from portal.history import verification
from portal.history.models import ChainHead, ReleaseRecord
from portal.history.selectors import chain_first_broken_seq
from portal.history.services import Actor
from tests.factories import ResidentFactory
from tests.history.tampering import bypassing_the_trigger, release

pytestmark = pytest.mark.django_db


def _verify(*args: str) -> tuple[int, str]:
    out = io.StringIO()
    try:
        call_command("verify_history", *args, stdout=out)
    except CommandError as error:
        return error.returncode, out.getvalue() + str(error)
    return 0, out.getvalue()


@pytest.fixture
def residents():
    """Three residents with chains of 5, 3 and 4 records, releases interleaved as they would be."""
    people = [ResidentFactory() for _ in range(3)]
    for n in range(5):
        for person, length in zip(people, (5, 3, 4), strict=True):
            if n < length:
                release(person, purpose=f"purpose {n + 1}")
    return people


def _record(resident, seq: int) -> ReleaseRecord:
    return ReleaseRecord.objects.get(owner=resident, seq=seq)


def test_a_clean_history_passes(residents):
    status, output = _verify()
    assert status == 0
    assert "checked 3 chains (12 records) in " in output and " and 0 daily roots in " in output
    assert output.strip().endswith("all intact")


def test_an_edited_row_fails_naming_its_seq(residents):
    victim = residents[0]
    bypassing_the_trigger(
        "UPDATE history_releaserecord SET purpose = 'nothing to see' WHERE id = %s", [_record(victim, 3).pk]
    )
    status, output = _verify()
    assert status == 1
    assert f"resident {victim.public_id}: first broken link at seq 3" in output
    assert str(residents[1].public_id) not in output and str(residents[2].public_id) not in output
    assert "1 broken chains" in output


def test_a_deleted_row_fails(residents):
    victim = residents[2]
    bypassing_the_trigger("DELETE FROM history_releaserecord WHERE id = %s", [_record(victim, 2).pk])
    status, output = _verify()
    assert (status, f"resident {victim.public_id}: first broken link at seq 2") == (1, output.splitlines()[0])


def test_a_cut_tail_fails(residents):
    victim = residents[1]
    bypassing_the_trigger("DELETE FROM history_releaserecord WHERE id = %s", [_record(victim, 3).pk])
    status, output = _verify()
    assert status == 1
    assert f"resident {victim.public_id}: first broken link at seq 3" in output


def test_an_inserted_row_fails(residents):
    victim = residents[0]
    model = _record(victim, 2)
    bypassing_the_trigger(
        "UPDATE history_releaserecord SET seq = seq + 1 WHERE owner_id = %s AND seq >= 2", [victim.pk]
    )
    ReleaseRecord.objects.create(
        owner=victim,
        seq=2,
        actor_type=model.actor_type,
        actor_ref=model.actor_ref,
        actor_label=model.actor_label,
        category="household",
        items=[],
        purpose="forged",
        channel=model.channel,
        occurred_at=model.occurred_at,
        prev_hash=_record(victim, 1).record_hash,
        record_hash="f" * 64,
    )
    status, output = _verify()
    assert status == 1
    assert f"resident {victim.public_id}: first broken link at seq 2" in output


def test_reordered_rows_fail(residents):
    victim = residents[0]
    swap = "UPDATE history_releaserecord SET seq = %s WHERE owner_id = %s AND seq = %s"
    for new, old in ((1004, 4), (4, 5), (5, 1004)):
        bypassing_the_trigger(swap, [new, victim.pk, old])
    status, output = _verify()
    assert status == 1
    assert f"resident {victim.public_id}: first broken link at seq 4" in output


def test_every_broken_chain_is_reported(residents):
    for victim in residents[:2]:
        bypassing_the_trigger("DELETE FROM history_releaserecord WHERE id = %s", [_record(victim, 1).pk])
    status, output = _verify()
    assert status == 1
    assert output.count("first broken link at seq 1") == 2
    assert "2 broken chains" in output


def test_a_head_without_rows_fails(residents):
    victim = residents[1]
    bypassing_the_trigger("DELETE FROM history_releaserecord WHERE owner_id = %s", [victim.pk])
    status, output = _verify()
    assert status == 1
    assert f"resident {victim.public_id}: first broken link at seq 1" in output


def test_rows_without_a_head_fail(residents):
    victim = residents[2]
    ChainHead.objects.filter(owner=victim).delete()
    status, output = _verify()
    assert status == 1
    assert f"resident {victim.public_id}: first broken link at seq 5" in output


def test_one_resident_can_be_checked_alone(residents):
    victim, bystander = residents[0], residents[1]
    bypassing_the_trigger(
        "UPDATE history_releaserecord SET purpose = 'x' WHERE id = %s", [_record(victim, 1).pk]
    )
    status, output = _verify("--resident", str(bystander.public_id))
    assert status == 0
    assert "checked 1 chains (3 records)" in output
    status, output = _verify("--resident", str(victim.public_id))
    assert status == 1
    assert f"resident {victim.public_id}: first broken link at seq 1" in output


def test_an_unknown_resident_is_a_usage_error(residents):
    assert _verify("--resident", "not-a-uuid")[0] == 2
    assert _verify("--resident", "00000000-0000-0000-0000-000000000000")[0] == 2


@pytest.mark.parametrize(
    ("sql", "seq"),
    [
        ("UPDATE history_releaserecord SET items = '[\"more\"]' WHERE owner_id = %s AND seq = 2", 2),
        (
            "UPDATE history_releaserecord SET occurred_at = occurred_at + interval '1 second' "
            "WHERE owner_id = %s AND seq = 4",
            4,
        ),
        ("DELETE FROM history_releaserecord WHERE owner_id = %s AND seq = 5", 5),
        ("UPDATE history_releaserecord SET seq = 9 WHERE owner_id = %s AND seq = 1", 1),
        ("UPDATE history_releaserecord SET seq = 2 WHERE owner_id = %s AND seq = 3", 3),
    ],
)
def test_the_fast_path_agrees_with_the_one_chain_selector(residents, sql, seq):
    victim = residents[0]
    bypassing_the_trigger(sql, [victim.pk])
    assert chain_first_broken_seq(owner=victim) == seq
    with verification.snapshot():
        found = list(verification.chains_verify())
    assert [(c.owner_public_id, c.first_broken_seq) for c in found] == [(str(victim.public_id), seq)]


def test_an_empty_history_passes(db):
    assert _verify()[0] == 0


@pytest.mark.django_db(transaction=True)
def test_a_run_outside_any_transaction_reads_one_snapshot():
    """The command's own REPEATABLE READ READ ONLY transaction (not a test's savepoint) on PostgreSQL."""
    resident = ResidentFactory()
    for n in range(3):
        release(resident, purpose=f"purpose {n}")
    status, output = _verify()
    assert (status, "checked 1 chains (3 records)") == (0, output[: len("checked 1 chains (3 records)")])


@pytest.mark.parametrize("vendor", ["postgresql", "sqlite"])
def test_times_and_items_hash_exactly_as_recorded(db, monkeypatch, vendor):
    """The fast path rebuilds record_digest's text: on PostgreSQL in SQL, elsewhere in Python."""
    resident = ResidentFactory()
    on_the_hour = dt.datetime(2026, 11, 1, 9, 0, tzinfo=dt.UTC)  # microsecond 0 still prints .000000
    release(resident, at=on_the_hour, items=[], legal_basis="番号法第19条")
    release(
        resident,
        items=["氏名", 'with "quotes", commas'],
        purpose="改行\nと\\",
        disclose_from=dt.datetime(2027, 1, 1, 0, 0, 0, 1, tzinfo=dt.UTC),
    )
    release(resident, actor=Actor.for_resident(resident), channel="web")
    monkeypatch.setattr(connection, "vendor", vendor)
    with verification.snapshot():
        assert list(verification.chains_verify()) == []
    bypassing_the_trigger(
        "UPDATE history_releaserecord SET disclose_from = disclose_from + interval '1 microsecond' "
        "WHERE owner_id = %s AND seq = 2",
        [resident.pk],
    )
    with verification.snapshot():
        assert [c.first_broken_seq for c in verification.chains_verify()] == [2]


def test_the_fast_digest_is_the_services_digest(residents):
    """verification builds services.record_body's text itself, for speed; it must stay the same text."""
    victim = residents[0]
    release(
        victim, items=["a", "b"], legal_basis="根拠", disclose_from=dt.datetime(2030, 1, 1, tzinfo=dt.UTC)
    )
    rows = list(verification._row_stream(ReleaseRecord.objects.filter(owner=victim).order_by("seq")))
    stored = list(
        ReleaseRecord.objects.filter(owner=victim).order_by("seq").values_list("record_hash", flat=True)
    )
    assert [verification.row_digest(str(victim.public_id), row) for row in rows] == stored
