"""Fetching and storing a resident's records through the real agency client and a fake network."""

import httpx
import pytest
from django.db import connection

from portal.agencies.client import AgencyError, AgencyUnavailable
from portal.identity.models import SecurityEvent
from portal.provision.models import FetchError, ProvisionFetch, ProvisionRecord
from portal.provision.payload import ProvisionPayloadError
from portal.provision.services import provision_fetch_gave_up, provision_records_refresh
from tests.factories import ResidentFactory
from tests.provision.conftest import network_code, provision_answer, provision_record

pytestmark = pytest.mark.django_db


def test_records_arrive(network, resident):
    code = network_code(resident)
    network.answer_json(
        provision_answer(code, [provision_record(1), provision_record(2, status="no_record")])
    )

    assert provision_records_refresh(resident=resident) == 2

    (request,) = network.requests
    assert request.url.path == f"/agencies/info-network/v1/residents/{code}/provision-records"
    assert request.headers["Authorization"].startswith("Bearer ")
    assert resident.my_number not in str(request.url)
    stored = {r.external_id: r for r in ProvisionRecord.objects.filter(resident=resident)}
    assert set(stored) == {"IPR-0000000000000001", "IPR-0000000000000002"}
    first = stored["IPR-0000000000000001"]
    assert first.requester_id == "municipal-child" and first.provider_name_ja == "横浜市中区 税務課"
    assert first.legal_basis.endswith("別表第二 項番57") and first.status == "provided"
    assert first.occurred_at.isoformat() == "2025-08-02T01:00:00+00:00"
    fetch = ProvisionFetch.objects.get(resident=resident)
    assert fetch.last_success_at is not None and not fetch.failed


def test_record_text_is_encrypted_at_rest(network, resident):
    network.answer_json(provision_answer(network_code(resident), [provision_record(1)]))
    provision_records_refresh(resident=resident)
    with connection.cursor() as cursor:
        cursor.execute("SELECT procedure_ja, requester_name_ja, items_en FROM provision_provisionrecord")
        row = cursor.fetchone()
    assert all(value.startswith("v1$") for value in row)
    assert "児童扶養手当" not in "".join(row)


def test_refreshing_again_stores_nothing_twice(network, resident):
    network.answer_json(provision_answer(network_code(resident), [provision_record(1), provision_record(2)]))
    assert provision_records_refresh(resident=resident) == 2
    assert provision_records_refresh(resident=resident) == 0
    assert ProvisionRecord.objects.filter(resident=resident).count() == 2


def test_new_records_are_added_and_corrections_applied(network, resident):
    code = network_code(resident)
    network.answer_json(provision_answer(code, [provision_record(1), provision_record(2)]))
    provision_records_refresh(resident=resident)
    corrected = provision_record(2, items_en="Local tax information (income)")
    network.answer_json(provision_answer(code, [provision_record(1), corrected, provision_record(3)]))

    assert provision_records_refresh(resident=resident) == 1

    assert ProvisionRecord.objects.filter(resident=resident).count() == 3
    assert (
        ProvisionRecord.objects.get(external_id="IPR-0000000000000002").items_en
        == "Local tax information (income)"
    )


def test_same_id_for_two_residents_is_two_records(network):
    first, second = ResidentFactory(), ResidentFactory()
    for resident in (first, second):
        network.answer_json(provision_answer(network_code(resident), [provision_record(1)]))
        provision_records_refresh(resident=resident)
    assert ProvisionRecord.objects.filter(external_id="IPR-0000000000000001").count() == 2


def test_answer_about_another_resident_stores_nothing_and_is_reported(network, resident):
    other = ResidentFactory()
    network.answer_json(provision_answer(network_code(other), [provision_record(1)]))

    with pytest.raises(ProvisionPayloadError):
        provision_records_refresh(resident=resident)

    assert not ProvisionRecord.objects.exists()
    assert ProvisionFetch.objects.get(resident=resident).last_error_code == FetchError.WRONG_SUBJECT
    event = SecurityEvent.objects.get(kind="provision_wrong_subject")
    assert event.resident == resident and event.detail["agency"] == "info-network"


def test_malformed_answer_stores_nothing_and_keeps_earlier_records(network, resident):
    code = network_code(resident)
    network.answer_json(provision_answer(code, [provision_record(1)]))
    provision_records_refresh(resident=resident)
    network.answer_json(provision_answer(code, [provision_record(2), provision_record(3, status="maybe")]))

    with pytest.raises(ProvisionPayloadError):
        provision_records_refresh(resident=resident)

    assert list(ProvisionRecord.objects.values_list("external_id", flat=True)) == ["IPR-0000000000000001"]
    fetch = ProvisionFetch.objects.get(resident=resident)
    assert fetch.last_error_code == FetchError.MALFORMED and fetch.last_success_at is not None
    assert SecurityEvent.objects.filter(kind="provision_malformed", resident=resident).exists()


def test_oversized_answer_is_refused(network, resident):
    network.answer_json(
        provision_answer(network_code(resident), [provision_record(1, procedure_en="x" * 5000)])
    )
    with pytest.raises(ProvisionPayloadError) as caught:
        provision_records_refresh(resident=resident)
    assert caught.value.code == "oversized"
    assert not ProvisionRecord.objects.exists()


def test_wrong_content_type_is_refused(network, resident):
    network.answer_json(
        provision_answer(network_code(resident), [provision_record(1)]), content_type="text/html"
    )
    with pytest.raises(AgencyError) as caught:
        provision_records_refresh(resident=resident)
    assert not isinstance(caught.value, AgencyUnavailable)
    assert not ProvisionRecord.objects.exists()
    assert ProvisionFetch.objects.get(resident=resident).last_error_code == FetchError.REFUSED


def test_answer_that_is_not_json_is_refused(network, resident):
    network.reply = (200, "application/json", b"<html>maintenance</html>")
    with pytest.raises(AgencyError):
        provision_records_refresh(resident=resident)
    assert ProvisionFetch.objects.get(resident=resident).last_error_code == FetchError.REFUSED


def test_outage_keeps_earlier_records_and_says_it_failed(network, resident):
    network.answer_json(provision_answer(network_code(resident), [provision_record(1)]))
    provision_records_refresh(resident=resident)
    succeeded_at = ProvisionFetch.objects.get(resident=resident).last_success_at
    network.reply = (503, "application/json", b'{"error": "agency_unavailable"}')

    with pytest.raises(AgencyUnavailable):
        provision_records_refresh(resident=resident)

    assert ProvisionRecord.objects.filter(resident=resident).count() == 1
    fetch = ProvisionFetch.objects.get(resident=resident)
    assert fetch.failed and fetch.last_error_code == FetchError.UNAVAILABLE
    assert fetch.last_success_at == succeeded_at and fetch.last_attempt_at > succeeded_at


def test_network_unreachable_is_retryable(network, resident):
    def refuse(request):
        raise httpx.ConnectError("connection refused", request=request)

    network.reply = refuse
    with pytest.raises(AgencyUnavailable):
        provision_records_refresh(resident=resident)
    assert ProvisionFetch.objects.get(resident=resident).last_error_code == FetchError.UNAVAILABLE


def test_giving_up_after_retries_is_visible_but_keeps_a_final_refusal(network, resident):
    network.reply = (503, "application/json", b"{}")
    with pytest.raises(AgencyUnavailable):
        provision_records_refresh(resident=resident)
    provision_fetch_gave_up(resident_id=resident.pk)
    assert ProvisionFetch.objects.get(resident=resident).last_error_code == FetchError.GAVE_UP

    other = ResidentFactory()
    network.answer_json(provision_answer("A" * 26, []))
    with pytest.raises(ProvisionPayloadError):
        provision_records_refresh(resident=other)
    provision_fetch_gave_up(resident_id=other.pk)
    assert ProvisionFetch.objects.get(resident=other).last_error_code == FetchError.WRONG_SUBJECT


def test_success_after_a_failure_clears_the_error(network, resident):
    network.reply = (503, "application/json", b"{}")
    with pytest.raises(AgencyUnavailable):
        provision_records_refresh(resident=resident)
    network.answer_json(provision_answer(network_code(resident), []))
    assert provision_records_refresh(resident=resident) == 0
    fetch = ProvisionFetch.objects.get(resident=resident)
    assert not fetch.failed and fetch.last_success_at is not None
