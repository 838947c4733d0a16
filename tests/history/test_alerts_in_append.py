"""The alert a release makes, decided and written by the append itself: history_append on PostgreSQL
(migration 0009) and the ORM path SQLite uses must alert in exactly the same cases, with the same alert."""

import datetime as dt

import pytest
from django.db import DatabaseError, connection, connections, transaction
from django.utils import timezone

from portal.history import services
from portal.history.models import ActorType, AlertPreference, Channel, ReleaseAlert, ReleaseRecord
from portal.history.selectors import chain_first_broken_seq
from portal.history.services import Actor, release_record
from tests.factories import ResidentFactory

pytestmark = pytest.mark.django_db

ACTORS = {
    ActorType.RESIDENT: None,  # the owner: Actor.for_resident, made per test
    ActorType.AGENCY: Actor(type=ActorType.AGENCY, ref="municipal-resident", label="デモ市 市民課"),
    ActorType.STAFF: Actor(type=ActorType.STAFF, ref="staff:1", label="サポート窓口"),
    ActorType.FIRM: Actor(type=ActorType.FIRM, ref="firm:sakura", label="さくら銀行株式会社"),
    ActorType.PROXY: Actor(type=ActorType.PROXY, ref="proxy-public-id", label="田中 由紀"),
}
PATHS = {"database": services._append_in_database, "orm": services._append}

# (actor, the owner's stored preference or None, alerted?)
CASES = [
    (ActorType.RESIDENT, None, False),
    (ActorType.RESIDENT, {"on_firm_reads": True, "on_proxy_reads": True}, False),
    (ActorType.AGENCY, None, False),
    (ActorType.AGENCY, {"on_firm_reads": True, "on_proxy_reads": True}, False),
    (ActorType.STAFF, None, True),
    (ActorType.STAFF, {"on_firm_reads": False, "on_proxy_reads": False}, True),
    (ActorType.FIRM, None, False),
    (ActorType.FIRM, {"on_firm_reads": True, "on_proxy_reads": False}, True),
    (ActorType.FIRM, {"on_firm_reads": False, "on_proxy_reads": True}, False),
    (ActorType.PROXY, None, True),
    (ActorType.PROXY, {"on_firm_reads": True, "on_proxy_reads": False}, False),
    (ActorType.PROXY, {"on_firm_reads": False, "on_proxy_reads": True}, True),
]


def _owner(preference: dict | None):
    owner = ResidentFactory()
    if preference is not None:
        AlertPreference.objects.create(resident=owner, **preference)
    return owner


def _append(path: str, owner, actor_type: str, disclose_from: dt.datetime | None = None):
    actor = ACTORS[actor_type] or Actor.for_resident(owner)
    with transaction.atomic():
        return PATHS[path](owner, actor, "income_tax", ["income"], "審査", Channel.WEB, "", disclose_from)


def _alert_of(owner) -> dict | None:
    """The alert as it would read for any owner at any time (times are checked against the record)."""
    alert = ReleaseAlert.objects.filter(resident=owner).values().first()
    if alert is None:
        return None
    per_owner = ("id", "resident_id", "occurred_at", "visible_from")
    return {key: value for key, value in alert.items() if key not in per_owner}


@pytest.mark.parametrize(("actor_type", "preference", "alerted"), CASES)
def test_both_paths_alert_in_the_same_cases_with_the_same_alert(actor_type, preference, alerted):
    made = {}
    for path in PATHS:
        owner = _owner(preference)
        record, said = _append(path, owner, actor_type)
        assert said is alerted, path
        assert ReleaseAlert.objects.filter(resident=owner).count() == (1 if alerted else 0), path
        assert chain_first_broken_seq(owner=owner) is None
        made[path] = _alert_of(owner)
        if alerted:
            alert = ReleaseAlert.objects.get(resident=owner)
            assert (alert.record_seq, alert.occurred_at, alert.visible_from) == (
                record.seq,
                record.occurred_at,
                record.occurred_at,
            )
            assert alert.read_at is None and alert.delivered_at is None
    assert made["database"] == made["orm"]


@pytest.mark.parametrize("path", PATHS)
def test_a_deferred_release_alerts_from_its_disclosure_on_both_paths(path):
    owner = _owner(None)
    disclose = timezone.now() + dt.timedelta(days=10)
    _record, alerted = _append(path, owner, ActorType.STAFF, disclose_from=disclose)
    assert alerted
    assert ReleaseAlert.objects.get(resident=owner).visible_from == disclose


@pytest.mark.parametrize("path", PATHS)
def test_a_release_its_caller_tells_the_owner_of_itself_makes_no_alert_on_both_paths(path):
    """alert_owner=False (a proxy's answer, told by a portal notice): the record, and no second telling."""
    owner = _owner({"on_firm_reads": True, "on_proxy_reads": True})
    with transaction.atomic():
        record, alerted = PATHS[path](
            owner,
            ACTORS[ActorType.PROXY],
            "notices",
            ["confirmation"],
            "回答",
            Channel.AGENCY_API,
            "",
            None,
            False,
        )
    assert alerted is False and record.seq == 1
    assert not ReleaseAlert.objects.filter(resident=owner).exists()
    assert chain_first_broken_seq(owner=owner) is None


def test_the_default_for_an_unset_preference_is_the_preferences_own_default():
    """No stored preference means what a new AlertPreference would say: firms no, proxies yes."""
    assert services.alert_rule(ActorType.FIRM) == ("on_firm_reads", AlertPreference().on_firm_reads)
    assert services.alert_rule(ActorType.PROXY) == ("on_proxy_reads", AlertPreference().on_proxy_reads)
    assert services.alert_rule(ActorType.STAFF) == (services.ALERT_ALWAYS, True)
    assert services.alert_rule(ActorType.AGENCY) == (None, False)


def test_history_append_refuses_an_unknown_alert_rule_and_writes_nothing():
    owner = _owner(None)
    call = (
        "SELECT * FROM history_append(%s, %s, 'firm', 'f', 'F', 'identity', '[]'::jsonb, 'p', '', 'web', "
        "now(), NULL, 'on_every_read', false)"
    )
    with (
        pytest.raises(DatabaseError, match="unknown alert rule"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute(call, [owner.pk, "body"])
    assert not ReleaseRecord.objects.filter(owner=owner).exists()
    assert not ReleaseAlert.objects.filter(resident=owner).exists()


@pytest.mark.django_db(transaction=True)
def test_outside_a_transaction_the_record_and_its_alert_are_committed_when_it_returns(monkeypatch):
    """The one-statement path: no BEGIN or COMMIT of ours, yet committed before the caller may release."""
    queued = []
    monkeypatch.setattr(services, "notify_resident_later", lambda **kwargs: queued.append(kwargs))
    owner = _owner(None)
    assert connection.get_autocommit()
    record = release_record(
        owner=owner,
        actor=ACTORS[ActorType.PROXY],
        category="medical_drugs",
        items=["records"],
        purpose="myinfo_view",
        channel=Channel.WEB,
    )
    other = connections.create_connection("default")  # another session sees only what was committed
    try:
        with other.cursor() as cursor:
            cursor.execute("SELECT count(*) FROM history_releaserecord WHERE owner_id = %s", [owner.pk])
            assert cursor.fetchone()[0] == 1
            cursor.execute("SELECT record_seq FROM history_releasealert WHERE resident_id = %s", [owner.pk])
            assert cursor.fetchall() == [(record.seq,)]
    finally:
        other.close()
    assert [q["dedupe_key"] for q in queued] == [f"release_alert:{record.seq}"]
    # What it returns is the row as stored, as a query would load it.
    stored = ReleaseRecord.objects.get(owner=owner)
    fields = [f.attname for f in ReleaseRecord._meta.concrete_fields]
    assert [getattr(record, f) for f in fields] == [getattr(stored, f) for f in fields]
    assert record.owner is owner and not record._state.adding


@pytest.mark.django_db(transaction=True)
def test_outside_a_transaction_a_failed_append_leaves_nothing_and_the_connection_works():
    owner = _owner(None)
    missing = ResidentFactory.build(pk=owner.pk + 10_000)  # no such row: the chain head's key refuses it
    with pytest.raises(DatabaseError):
        release_record(
            owner=missing,
            actor=ACTORS[ActorType.STAFF],
            category="identity",
            items=["name"],
            purpose="support",
            channel=Channel.ADMIN,
        )
    assert not ReleaseRecord.objects.exists() and not ReleaseAlert.objects.exists()
    assert connection.get_autocommit()
    record = release_record(
        owner=owner,
        actor=ACTORS[ActorType.STAFF],
        category="identity",
        items=["name"],
        purpose="support",
        channel=Channel.ADMIN,
    )
    assert record.seq == 1 and ReleaseAlert.objects.filter(resident=owner).count() == 1
