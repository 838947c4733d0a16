"""Starting a refresh: every category marked fetching, one task each, queued together after commit."""

from datetime import timedelta

import kombu.exceptions
import pytest
from celery import group
from django.contrib.auth.signals import user_logged_in
from django.test import RequestFactory

from portal.core.categories import MEDICAL, SELF_INFORMATION
from portal.identity.models import Resident, User
from portal.myinfo.models import CategoryEntry, EntryState, FetchError
from portal.myinfo.services import myinfo_refresh_start
from tests.helpers import login_with_card

pytestmark = pytest.mark.django_db

EVERY_CATEGORY = [c.code for c in (*SELF_INFORMATION, *MEDICAL)]


@pytest.fixture
def sent(monkeypatch) -> list[list[dict]]:
    """Each group sent to the broker, as the list of its tasks' names and arguments."""
    groups: list[list[dict]] = []

    def apply_async(self, *args, **kwargs):
        groups.append([{"task": s.task, **s.kwargs} for s in self.tasks])

    monkeypatch.setattr(group, "apply_async", apply_async)
    return groups


def test_every_category_is_marked_and_queued_at_once_after_commit(
    resident, sent, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        queued = myinfo_refresh_start(resident=resident)
        assert sent == []  # nothing leaves before the transaction commits

    assert queued == EVERY_CATEGORY
    (tasks,) = sent
    assert [t["category"] for t in tasks] == EVERY_CATEGORY
    assert {t["task"] for t in tasks} == {"myinfo.fetch_category"}
    assert {t["resident_id"] for t in tasks} == {resident.pk}
    entries = CategoryEntry.objects.filter(resident=resident)
    assert entries.count() == 12 and {e.state for e in entries} == {EntryState.FETCHING}
    assert {e.requested_at.isoformat() for e in entries} == {tasks[0]["requested_at"]}
    assert (
        CategoryEntry.objects.get(resident=resident, category="medical_drugs").agency_id
        == "medical-insurance"
    )


def test_a_category_already_being_fetched_is_left_to_that_fetch(
    resident, sent, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        myinfo_refresh_start(resident=resident, categories=["household", "pension"])
    with django_capture_on_commit_callbacks(execute=True):
        assert myinfo_refresh_start(resident=resident) == [
            c for c in EVERY_CATEGORY if c not in ("household", "pension")
        ]
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        assert myinfo_refresh_start(resident=resident, categories=["household"]) == []
    assert callbacks == []  # nothing to send


def test_a_lost_fetch_may_be_started_again(resident, sent, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        myinfo_refresh_start(resident=resident, categories=["household"])
    entry = CategoryEntry.objects.get(resident=resident, category="household")
    entry.requested_at -= timedelta(minutes=16)
    entry.save(update_fields=["requested_at"])

    with django_capture_on_commit_callbacks(execute=True):
        assert myinfo_refresh_start(resident=resident, categories=["household"]) == ["household"]


def test_a_finished_category_is_fetched_again_on_refresh(resident, sent, django_capture_on_commit_callbacks):
    CategoryEntry.objects.create(
        resident=resident,
        category="household",
        agency_id="municipal-resident",
        state=EntryState.FAILED,
        last_error_code=FetchError.GAVE_UP,
        attempts=6,
    )
    with django_capture_on_commit_callbacks(execute=True):
        assert myinfo_refresh_start(resident=resident, categories=["household"]) == ["household"]
    entry = CategoryEntry.objects.get(resident=resident, category="household")
    assert (entry.state, entry.last_error_code, entry.attempts) == (EntryState.FETCHING, "", 0)


def test_unknown_categories_are_refused(resident):
    with pytest.raises(ValueError, match="provision_records"):
        myinfo_refresh_start(resident=resident, categories=["household", "provision_records"])


def test_a_card_login_starts_the_refresh(client, trusted_jpki, sent, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        login_with_card(client, trusted_jpki, "yamada-hanako")
    resident = Resident.objects.get(name="山田 花子")
    assert CategoryEntry.objects.filter(resident=resident, state=EntryState.FETCHING).count() == 12
    assert len(sent) == 1 and len(sent[0]) == 12


def test_a_staff_login_starts_nothing(sent):
    staff = User.objects.create_superuser("staff-member", "correct horse battery staple")
    request = RequestFactory().get("/")
    user_logged_in.send(sender=User, request=request, user=staff)
    assert not CategoryEntry.objects.exists() and sent == []


def test_a_broken_broker_does_not_break_the_login(
    client, trusted_jpki, monkeypatch, django_capture_on_commit_callbacks
):
    def refuse(self, *args, **kwargs):
        raise ConnectionError("broker down")

    monkeypatch.setattr(group, "apply_async", refuse)
    with django_capture_on_commit_callbacks(execute=True):
        login_with_card(client, trusted_jpki, "yamada-hanako")  # asserts the login completed
    assert client.get("/").status_code == 200


def test_a_broker_that_refuses_leaves_the_categories_not_started(
    resident, monkeypatch, django_capture_on_commit_callbacks
):
    def refuse(self, *args, **kwargs):
        raise kombu.exceptions.OperationalError("Error 111 connecting to 127.0.0.1:6379. Connection refused.")

    monkeypatch.setattr(group, "apply_async", refuse)
    with django_capture_on_commit_callbacks() as callbacks:
        myinfo_refresh_start(resident=resident, categories=["household", "pension"])
    # A worker began one before the broker went (part of the group was sent): that one is under way.
    CategoryEntry.objects.filter(resident=resident, category="pension").update(attempts=1)
    for callback in callbacks:
        callback()

    household = CategoryEntry.objects.get(resident=resident, category="household")
    assert (household.state, household.last_error_code) == (EntryState.FAILED, FetchError.NOT_STARTED)
    pension = CategoryEntry.objects.get(resident=resident, category="pension")
    assert (pension.state, pension.last_error_code) == (EntryState.FETCHING, "")


def test_a_category_not_started_may_be_asked_for_again(resident, sent, django_capture_on_commit_callbacks):
    CategoryEntry.objects.create(
        resident=resident,
        category="household",
        agency_id="municipal-resident",
        state=EntryState.FAILED,
        last_error_code=FetchError.NOT_STARTED,
    )
    with django_capture_on_commit_callbacks(execute=True):
        assert myinfo_refresh_start(resident=resident, categories=["household"]) == ["household"]
    assert [t["category"] for t in sent[0]] == ["household"]


def test_a_fetch_the_sweep_sent_again_is_under_way(resident, sent, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        myinfo_refresh_start(resident=resident, categories=["household"])
    entry = CategoryEntry.objects.get(resident=resident, category="household")
    # Asked for long ago, lost, and sent again a moment ago: the new task is coming.
    entry.requested_at -= timedelta(minutes=16)
    entry.resent_at = entry.requested_at + timedelta(minutes=15, seconds=30)
    entry.save(update_fields=["requested_at", "resent_at"])
    with django_capture_on_commit_callbacks(execute=True):
        assert myinfo_refresh_start(resident=resident, categories=["household"]) == []
