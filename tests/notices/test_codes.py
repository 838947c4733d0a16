"""Agency-specific codes are indexed by keyed hash, at registration and by a command; notices find them."""

import pytest
from django.core.management import call_command

from notices.models import ResidentAgencyCode
from notices.selectors import resident_by_agency_code
from portal.agencies.codes import agency_registry
from tests.factories import ResidentFactory
from tests.notices.conftest import code_of

pytestmark = pytest.mark.django_db


def test_registration_indexes_every_agency(django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        resident = ResidentFactory()
    assert ResidentAgencyCode.objects.filter(resident=resident).count() == len(agency_registry())
    for agency_id in agency_registry():
        assert resident_by_agency_code(agency_id=agency_id, code=code_of(resident, agency_id)) == resident
    stored = set(ResidentAgencyCode.objects.values_list("code_hash", flat=True))
    assert code_of(resident) not in stored  # kept only as keyed hashes


def test_command_fills_only_what_is_missing():
    residents = [ResidentFactory() for _ in range(3)]
    call_command("fill_agency_codes", "--agency", "municipal-child")
    assert ResidentAgencyCode.objects.count() == 3
    call_command("fill_agency_codes")
    assert ResidentAgencyCode.objects.count() == 3 * len(agency_registry())
    call_command("fill_agency_codes")
    assert ResidentAgencyCode.objects.count() == 3 * len(agency_registry())
    assert (
        resident_by_agency_code(agency_id="pension-service", code=code_of(residents[1], "pension-service"))
        == (residents[1])
    )


def test_a_code_of_another_agency_finds_no_one():
    resident = ResidentFactory()
    call_command("fill_agency_codes")
    assert (
        resident_by_agency_code(agency_id="municipal-child", code=code_of(resident, "municipal-tax")) is None
    )
