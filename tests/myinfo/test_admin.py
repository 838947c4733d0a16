"""Staff review quarantined records in the admin; the record itself only after a recorded release."""

import pytest
from django.urls import reverse

from portal.history.models import ActorType, Channel, ReleaseRecord
from portal.identity.models import User
from portal.myinfo.models import CategoryEntry, Quarantine, ReviewState
from portal.myinfo.services import category_fetch
from tests.myinfo.conftest import answer_for, json_reply

pytestmark = pytest.mark.django_db

STRANGER = {"name": "鈴木 一朗", "name_kana": "スズキ イチロウ", "birth_date": "1979-08-01"}


@pytest.fixture
def staff(client):
    user = User.objects.create_superuser("staff-reviewer", "correct horse battery staple")
    client.force_login(user)
    return user


@pytest.fixture
def quarantine(agencies, resident) -> Quarantine:
    data = {"insurer": "健康保険組合", "member_number": "12345678"}
    agencies.answer("health_insurance", answer_for(resident, "health_insurance", data, subject=STRANGER))
    category_fetch(resident_id=resident.pk, category="health_insurance")
    return Quarantine.objects.get(resident=resident)


def _staff_reads(resident):
    return ReleaseRecord.objects.filter(owner=resident, actor_type=ActorType.STAFF)


def test_list_and_form_show_no_content_and_log_nothing(client, staff, quarantine):
    listing = client.get(reverse("admin:myinfo_quarantine_changelist"))
    form = client.get(reverse("admin:myinfo_quarantine_change", args=[quarantine.pk]))
    for page in (listing, form):
        assert page.status_code == 200
        assert "12345678" not in page.content.decode() and "一朗" not in page.content.decode()
    assert "MLR-0001" in listing.content.decode()
    assert not _staff_reads(quarantine.resident).exists()


def test_the_record_is_shown_only_after_its_release_is_recorded(client, staff, quarantine):
    url = reverse("admin:myinfo_quarantine_payload", args=[quarantine.pk])
    asked = client.get(url)
    assert asked.status_code == 200 and "12345678" not in asked.content.decode()
    assert not _staff_reads(quarantine.resident).exists()

    shown = client.post(url)

    assert shown.status_code == 200
    assert "12345678" in shown.content.decode() and "鈴木 一朗" in shown.content.decode()
    (logged,) = _staff_reads(quarantine.resident)
    assert logged.channel == Channel.ADMIN and logged.category == "health_insurance"
    assert logged.purpose == "mislink_review" and logged.items == ["quarantined_record"]
    assert shown["Cache-Control"].startswith("max-age=0") or "no-cache" in shown["Cache-Control"]


def test_staff_record_their_review(client, staff, quarantine):
    url = reverse("admin:myinfo_quarantine_change", args=[quarantine.pk])
    form = {"review_state": ReviewState.CONFIRMED, "review_note": "健保組合に照会済み", "mismatched": "[]"}
    assert client.post(url, form).status_code == 302
    quarantine.refresh_from_db()
    assert quarantine.review_state == ReviewState.CONFIRMED and quarantine.reviewed_by == staff
    assert quarantine.mismatched == ["name", "birth_date"]  # read-only fields are not changed by a form


def test_quarantines_cannot_be_added_or_deleted(client, staff, quarantine):
    assert client.get(reverse("admin:myinfo_quarantine_add")).status_code == 403
    delete = reverse("admin:myinfo_quarantine_delete", args=[quarantine.pk])
    assert client.post(delete, {"post": "yes"}).status_code == 403
    assert Quarantine.objects.filter(pk=quarantine.pk).exists()


def test_the_report_can_be_sent_again_from_the_list(client, staff, agencies, resident, no_report_task):
    agencies.answer("health_insurance", answer_for(resident, "health_insurance", {"x": 1}, subject=STRANGER))
    agencies.report_reply = json_reply({"error": "injected_error"}, status=500)
    category_fetch(resident_id=resident.pk, category="health_insurance")
    quarantine = Quarantine.objects.get(resident=resident)
    agencies.report_reply = json_reply({"report_id": "MLR-7", "status": "received"}, status=202)

    client.post(
        reverse("admin:myinfo_quarantine_changelist"),
        {"action": "send_report", "_selected_action": [quarantine.pk]},
    )

    quarantine.refresh_from_db()
    assert quarantine.report_id == "MLR-7"


def test_fetch_states_are_listed_without_data(client, staff, agencies, resident):
    agencies.answer("household", answer_for(resident, "household", {"household_id": "H-98765"}))
    category_fetch(resident_id=resident.pk, category="household")
    entry = CategoryEntry.objects.get(resident=resident)
    page = client.get(reverse("admin:myinfo_categoryentry_change", args=[entry.pk]))
    assert page.status_code == 200 and "H-98765" not in page.content.decode()
