"""One fetch of one category through the real agency client and fake agencies: kept, refused, quarantined."""

import json
from datetime import timedelta

import httpx
import pytest
from django.db import connection
from django.utils import timezone

from portal.agencies.client import AgencyUnavailable
from portal.history.models import ActorType, Channel, ReleaseRecord
from portal.identity.models import SecurityEvent
from portal.myinfo.models import CategoryEntry, EntryState, FetchError, Quarantine
from portal.myinfo.selectors import myinfo_payload
from portal.myinfo.services import category_fetch, quarantine_report_send
from tests.myinfo.conftest import HOUSEHOLD_DATA, answer_for, code_for, json_reply

pytestmark = pytest.mark.django_db


def _entry(resident, category="household") -> CategoryEntry:
    return CategoryEntry.objects.get(resident=resident, category=category)


def _fetch(resident, category="household", **options) -> str:
    return category_fetch(resident_id=resident.pk, category=category, **options)


def test_a_category_arrives_encrypted_with_its_lifetime(agencies, resident, settings):
    agencies.answer("household", answer_for(resident, "household", HOUSEHOLD_DATA))

    assert _fetch(resident) == EntryState.DONE

    (request,) = agencies.requests
    code = code_for(resident, "household")
    assert request.url.path == f"/agencies/municipal-resident/v1/residents/{code}/self-information/household"
    assert request.headers["Authorization"].startswith("Bearer ")
    assert resident.my_number not in str(request.url)
    entry = _entry(resident)
    assert entry.state == EntryState.DONE and entry.last_error_code == "" and entry.attempts == 1
    assert entry.as_of.isoformat() == "2026-11-23T01:00:00+00:00"
    assert entry.expires_at - entry.fetched_at == timedelta(seconds=settings.MYINFO_CACHE_SECONDS)
    assert myinfo_payload(resident=resident, category="household") == HOUSEHOLD_DATA
    with connection.cursor() as cursor:
        cursor.execute("SELECT payload FROM myinfo_categoryentry WHERE id = %s", [entry.pk])
        (stored,) = cursor.fetchone()
    assert stored.startswith("v1$") and "H-900" not in stored


def _chunked(size: int):
    """A 200 answer with no Content-Length: the cap must hold while reading."""

    def reply(request):
        chunks = iter([b'{"data": "', *([b"x" * 65536] * (size // 65536)), b'"}'])
        return httpx.Response(200, headers={"Content-Type": "application/json"}, content=chunks)

    return reply


def _oversized_json(resident):
    big = {"members": [{"name": "x" * 1000} for _ in range(600)]}
    return json_reply(answer_for(resident, "household", big))


@pytest.mark.parametrize(
    ("reply", "error", "event"),
    [
        (lambda r: (200, "application/json", b'{"agency_id": '), FetchError.MALFORMED, "myinfo_malformed"),
        (lambda r: json_reply(["not", "an", "object"]), FetchError.MALFORMED, "myinfo_malformed"),
        (
            lambda r: (200, "text/html", b"<html>maintenance</html>"),
            FetchError.CONTENT_TYPE,
            "myinfo_content_type",
        ),
        (_oversized_json, FetchError.OVERSIZED, "myinfo_oversized"),
        (lambda r: _chunked(1024 * 1024), FetchError.OVERSIZED, "myinfo_oversized"),
        (
            lambda r: json_reply(answer_for(r, "household", HOUSEHOLD_DATA, agency_code="A" * 26)),
            FetchError.WRONG_SUBJECT,
            "myinfo_wrong_subject",
        ),
        (
            lambda r: json_reply(answer_for(r, "household", {**HOUSEHOLD_DATA, "member_count": "one"})),
            FetchError.MALFORMED,
            "myinfo_malformed",
        ),
        (lambda r: json_reply({"error": "category_not_served"}, status=404), FetchError.NOT_SERVED, None),
        (lambda r: json_reply({"error": "unknown_code"}, status=404), FetchError.NOT_FOUND, None),
        (lambda r: json_reply({"error": "invalid_assertion"}, status=401), FetchError.REFUSED, None),
    ],
)
def test_a_bad_answer_is_a_final_failure_and_never_data(agencies, resident, settings, reply, error, event):
    agencies.replies["household"] = reply(resident)

    assert _fetch(resident) == EntryState.FAILED

    assert len(agencies.requests) == 1  # final: not asked again
    entry = _entry(resident)
    assert (entry.state, entry.last_error_code, entry.payload) == (EntryState.FAILED, error, None)
    assert myinfo_payload(resident=resident, category="household") is None
    events = list(SecurityEvent.objects.filter(resident=resident).values_list("kind", flat=True))
    assert events == ([event] if event else [])


def test_security_events_say_where_not_what(agencies, resident):
    agencies.answer(
        "household", answer_for(resident, "household", {**HOUSEHOLD_DATA, "member_count": "秘密"})
    )
    _fetch(resident)
    (event,) = SecurityEvent.objects.filter(resident=resident)
    assert event.detail["where"] == "answer.data.member_count"
    assert "秘密" not in json.dumps(event.detail, ensure_ascii=False)


def _raising(error: type[httpx.TransportError]):
    def reply(request):
        raise error("simulated", request=request)

    return reply


@pytest.mark.parametrize(
    "reply",
    [
        json_reply({"error": "injected_error"}, status=500),
        json_reply({"error": "agency_unavailable"}, status=503),
        json_reply({"error": "slow_down"}, status=429),
        _raising(httpx.ConnectError),
        _raising(httpx.ReadTimeout),
    ],
)
def test_an_unavailable_agency_is_recorded_and_raised_for_a_retry(agencies, resident, reply):
    agencies.replies["household"] = reply

    with pytest.raises(AgencyUnavailable):
        _fetch(resident)

    entry = _entry(resident)
    assert (entry.state, entry.last_error_code) == (EntryState.FAILED, FetchError.UNAVAILABLE)
    assert entry.consecutive_failures == 1
    assert not SecurityEvent.objects.exists()


def test_older_data_stays_readable_when_an_update_fails(agencies, resident):
    agencies.answer("household", answer_for(resident, "household", HOUSEHOLD_DATA))
    _fetch(resident)
    agencies.answer("household", {"error": "injected_error"}, status=500)

    with pytest.raises(AgencyUnavailable):
        _fetch(resident)

    assert _entry(resident).state == EntryState.FAILED
    assert myinfo_payload(resident=resident, category="household") == HOUSEHOLD_DATA


def test_a_name_written_another_way_is_the_same_person(agencies, resident):
    subject = {
        "name": resident.name.replace(" ", "　"),  # full-width space
        "name_kana": resident.name_kana,
        "birth_date": resident.birth_date.isoformat(),
    }
    agencies.answer("household", answer_for(resident, "household", HOUSEHOLD_DATA, subject=subject))
    assert _fetch(resident) == EntryState.DONE


STRANGER = {"name": "鈴木 一朗", "name_kana": "スズキ イチロウ", "birth_date": "1979-08-01"}
INSURANCE = {"insurer": "健康保険組合", "member_number": "12345678"}


def _mislinked(agencies, resident, data=INSURANCE):
    agencies.answer("health_insurance", answer_for(resident, "health_insurance", data, subject=STRANGER))


def test_a_record_about_someone_else_is_quarantined_reported_and_never_shown(agencies, resident):
    _mislinked(agencies, resident)

    assert _fetch(resident, "health_insurance") == EntryState.QUARANTINED

    entry = _entry(resident, "health_insurance")
    assert (entry.state, entry.last_error_code) == (EntryState.QUARANTINED, FetchError.IDENTITY_MISMATCH)
    assert entry.payload is None
    assert myinfo_payload(resident=resident, category="health_insurance") is None
    quarantine = Quarantine.objects.get(resident=resident)
    assert quarantine.mismatched == ["name", "birth_date"]
    assert quarantine.agency_id == "health-insurer"
    assert json.loads(quarantine.payload)["data"] == INSURANCE
    with connection.cursor() as cursor:
        cursor.execute("SELECT payload FROM myinfo_quarantine WHERE id = %s", [quarantine.pk])
        (stored,) = cursor.fetchone()
    assert stored.startswith("v1$") and "12345678" not in stored

    (report,) = agencies.reports()
    code = code_for(resident, "health_insurance")
    assert report.url.path == f"/agencies/health-insurer/v1/residents/{code}/mislink-reports"
    assert report.headers["Idempotency-Key"] == str(quarantine.public_id)
    assert report.headers["Authorization"].startswith("Bearer ")
    body = json.loads(report.content)
    assert body["category"] == "health_insurance" and body["reason"] == "identity_mismatch"
    assert body["observed"] == {"name": True, "birth_date": True}
    assert body["reported_at"] == quarantine.detected_at.isoformat()
    assert resident.my_number not in report.content.decode() and "一朗" not in report.content.decode()
    assert quarantine.report_id == "MLR-0001" and quarantine.reported_at is not None

    (event,) = SecurityEvent.objects.filter(resident=resident)
    assert event.kind == "myinfo_identity_mismatch" and event.detail["mismatched"] == ["name", "birth_date"]
    # Telling the agency is a release about the resident: in their history before it was sent.
    (logged,) = ReleaseRecord.objects.filter(owner=resident)
    assert (logged.actor_type, logged.actor_ref, logged.channel) == (
        ActorType.AGENCY,
        "health-insurer",
        Channel.AGENCY_API,
    )
    assert logged.category == "health_insurance" and logged.purpose == "mislink_report"


def test_a_mismatch_drops_the_data_held_before(agencies, resident):
    agencies.answer("health_insurance", answer_for(resident, "health_insurance", INSURANCE))
    _fetch(resident, "health_insurance")
    assert myinfo_payload(resident=resident, category="health_insurance") == INSURANCE

    _mislinked(agencies, resident)
    _fetch(resident, "health_insurance")

    assert myinfo_payload(resident=resident, category="health_insurance") is None


def test_the_same_mislinked_record_again_is_one_quarantine_and_one_report(agencies, resident):
    _mislinked(agencies, resident)
    _fetch(resident, "health_insurance")
    _fetch(resident, "health_insurance")

    assert Quarantine.objects.filter(resident=resident).count() == 1
    assert len(agencies.reports()) == 1
    assert ReleaseRecord.objects.filter(owner=resident).count() == 1
    assert SecurityEvent.objects.filter(resident=resident).count() == 1

    _mislinked(agencies, resident, {**INSURANCE, "member_number": "87654321"})
    _fetch(resident, "health_insurance")
    assert Quarantine.objects.filter(resident=resident).count() == 2


def test_a_report_the_agency_did_not_take_is_sent_again_with_the_same_key(agencies, resident, no_report_task):
    _mislinked(agencies, resident)
    agencies.report_reply = json_reply({"error": "agency_unavailable"}, status=503)

    assert _fetch(resident, "health_insurance") == EntryState.QUARANTINED

    quarantine = Quarantine.objects.get(resident=resident)
    assert quarantine.report_id == "" and quarantine.report_error == "unavailable"
    assert no_report_task == [{"kwargs": {"quarantine_id": quarantine.pk}, "countdown": 30}]

    agencies.report_reply = json_reply({"report_id": "MLR-0002", "status": "received"}, status=202)
    assert quarantine_report_send(quarantine_id=quarantine.pk) == "MLR-0002"

    first, second = agencies.reports()
    assert first.headers["Idempotency-Key"] == second.headers["Idempotency-Key"] == str(quarantine.public_id)
    assert first.content == second.content
    quarantine.refresh_from_db()
    assert (quarantine.report_attempts, quarantine.report_error) == (2, "")
    assert ReleaseRecord.objects.filter(owner=resident).count() == 1  # recorded once, before the first try


def test_a_report_answer_without_an_id_is_not_taken(agencies, resident, no_report_task):
    _mislinked(agencies, resident)
    agencies.report_reply = json_reply({"status": "received"}, status=202)
    _fetch(resident, "health_insurance")
    quarantine = Quarantine.objects.get(resident=resident)
    assert quarantine.report_id == "" and quarantine.report_error == "malformed"


def test_a_copy_queued_before_a_later_success_does_nothing(agencies, resident):
    requested_at = timezone.now()
    agencies.answer("household", answer_for(resident, "household", HOUSEHOLD_DATA))
    assert _fetch(resident, requested_at=requested_at) == EntryState.DONE

    assert _fetch(resident, requested_at=requested_at) == "skipped"
    assert len(agencies.requests) == 1
    assert _entry(resident).attempts == 1


def test_a_redelivered_fetch_after_a_crash_fetches_again_into_the_same_entry(agencies, resident):
    requested_at = timezone.now()
    agencies.answer("household", answer_for(resident, "household", HOUSEHOLD_DATA))
    # The first delivery began and its worker died: the entry says fetching, attempt 1.
    CategoryEntry.objects.create(
        resident=resident,
        category="household",
        agency_id="municipal-resident",
        state=EntryState.FETCHING,
        requested_at=requested_at,
        last_attempt_at=requested_at + timedelta(milliseconds=5),
        attempts=1,
    )

    assert _fetch(resident, requested_at=requested_at) == EntryState.DONE

    assert CategoryEntry.objects.filter(resident=resident).count() == 1
    assert _entry(resident).attempts == 2


def test_a_closed_folder_is_nothing_to_do(agencies):
    assert category_fetch(resident_id=987654321, category="household") == "gone"
    assert agencies.requests == []


def test_only_self_information_categories_are_fetched(agencies, resident):
    with pytest.raises(ValueError, match="provision_records"):
        _fetch(resident, "provision_records")
