"""Staff may look at a record in the admin, read-only, and the look is in the resident's history first."""

import pytest
from django.contrib.auth.models import Group
from django.urls import reverse

from portal.history.models import ActorType, Channel, ReleaseRecord
from portal.identity.models import User
from portal.provision.models import ProvisionRecord
from portal.provision.services import provision_records_refresh
from tests.provision.conftest import network_code, provision_answer, provision_record

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff_client(client):
    staff = User.objects.create_superuser("staff-reviewer", "correct horse battery staple")
    client.force_login(staff)
    return client


@pytest.fixture
def record(network, resident) -> ProvisionRecord:
    network.answer_json(provision_answer(network_code(resident), [provision_record(1)]))
    provision_records_refresh(resident=resident)
    return ProvisionRecord.objects.get(resident=resident)


def test_list_shows_no_content_and_logs_nothing(staff_client, record):
    page = staff_client.get(reverse("admin:provision_provisionrecord_changelist"))
    assert page.status_code == 200
    assert record.external_id in page.content.decode()
    assert "児童扶養手当" not in page.content.decode()
    assert not ReleaseRecord.objects.exists()


def test_opening_a_record_is_logged_as_a_staff_read(staff_client, record):
    page = staff_client.get(reverse("admin:provision_provisionrecord_change", args=[record.pk]))
    assert page.status_code == 200
    assert "児童扶養手当" in page.content.decode()
    (logged,) = ReleaseRecord.objects.filter(owner=record.resident)
    assert logged.actor_type == ActorType.STAFF and logged.channel == Channel.ADMIN
    assert logged.category == "provision_records" and logged.items == [record.external_id]
    assert logged.actor_label == "staff"  # no group: plain staff, never a made-up role


def test_the_staff_members_role_is_what_the_resident_reads(staff_client, record):
    User.objects.get(username="staff-reviewer").groups.add(Group.objects.create(name="問合せ窓口"))
    staff_client.get(reverse("admin:provision_provisionrecord_change", args=[record.pk]))
    (logged,) = ReleaseRecord.objects.filter(owner=record.resident)
    assert logged.actor_label == "問合せ窓口"


def test_records_cannot_be_changed_or_deleted(staff_client, record):
    assert staff_client.get(reverse("admin:provision_provisionrecord_add")).status_code == 403
    delete = reverse("admin:provision_provisionrecord_delete", args=[record.pk])
    assert staff_client.post(delete, {"post": "yes"}).status_code == 403
    change = reverse("admin:provision_provisionrecord_change", args=[record.pk])
    assert staff_client.post(change, {"procedure_ja": "x"}).status_code == 403
    assert ProvisionRecord.objects.get(pk=record.pk).procedure_ja != "x"
    assert not ReleaseRecord.objects.exists()  # nothing was shown
