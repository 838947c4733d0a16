"""Fixed reads and inserts (portal/core/rows.py) give what the ORM gives: converted values, deferred
columns loaded on demand, related instances cached, primary keys set."""

import datetime as dt

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from portal.core.rows import Columns, FixedRead, related_cache, row_insert
from portal.identity.models import Resident
from portal.myinfo.models import CategoryEntry, EntryState
from tests.factories import ResidentFactory

pytestmark = pytest.mark.django_db

ENTRY = Columns(CategoryEntry, "e", ("id", "resident", "state", "payload", "as_of", "expires_at"))
RESIDENT = Columns(Resident, "r", ("id", "public_id"))
READ = FixedRead(
    (ENTRY, RESIDENT),
    lambda: f"FROM {ENTRY.table} JOIN {RESIDENT.table} ON r.id = e.resident_id WHERE e.id = %s",
)


def _entry(resident: Resident) -> CategoryEntry:
    return CategoryEntry.objects.create(
        resident=resident,
        category="income_tax",
        agency_id="city",
        state=EntryState.DONE,
        payload='{"年": 2025}',
        as_of=timezone.now() - dt.timedelta(days=1),
        expires_at=timezone.now() + dt.timedelta(hours=24),
        attempts=3,
    )


def test_a_fixed_read_gives_the_orm_values_decrypted_and_converted():
    resident = ResidentFactory()
    stored = _entry(resident)
    orm = CategoryEntry.objects.get(pk=stored.pk)
    with CaptureQueriesContext(connection) as queries:
        entry, owner = READ.one([stored.pk])
        related_cache(entry, "resident", owner)
        assert entry.resident.public_id == resident.public_id  # cached: no query
    assert len(queries.captured_queries) == 1
    assert entry.payload == orm.payload == '{"年": 2025}'  # the encrypted column, decrypted
    assert (entry.state, entry.as_of, entry.expires_at) == (orm.state, orm.as_of, orm.expires_at)
    assert entry.as_of.tzinfo is not None
    assert isinstance(owner.public_id, type(resident.public_id))


def test_columns_not_named_are_deferred_and_load_on_demand():
    stored = _entry(ResidentFactory())
    entry, owner = READ.one([stored.pk])
    assert entry.get_deferred_fields() >= {"agency_id", "attempts"}
    assert entry.attempts == 3  # one query, as the ORM's .only() would make
    assert "name" in owner.get_deferred_fields()  # personal columns stay unread


def test_no_row_is_none():
    assert READ.one([0]) is None


def test_an_unknown_column_is_refused_when_the_read_is_built():
    with pytest.raises(ValueError, match="no column"):
        _ = Columns(CategoryEntry, "e", ("id", "payload_plain")).fields


def test_row_insert_sets_the_key_and_applies_pre_save():
    resident = ResidentFactory()
    entry = row_insert(
        CategoryEntry(resident=resident, category="pension", agency_id="nenkin", payload='{"a": 1}')
    )
    assert entry.pk is not None and not entry._state.adding
    stored = CategoryEntry.objects.get(pk=entry.pk)
    assert stored.payload == '{"a": 1}' and stored.updated_at is not None  # auto_now applied
    raw = CategoryEntry.objects.filter(pk=entry.pk).values_list("payload", flat=True)
    with connection.cursor() as cursor:
        cursor.execute("SELECT payload FROM myinfo_categoryentry WHERE id = %s", [entry.pk])
        assert cursor.fetchone()[0] != '{"a": 1}'  # stored encrypted
    assert list(raw) == ['{"a": 1}']
