"""The portal's agency client against the simulator over real HTTP: signed assertions, codes, faults."""

import pytest

from portal.agencies.client import AgencyError, AgencyUnavailable, agency_get
from portal.agencies.codes import agency_code
from tests.conftest import PEOPLE

pytestmark = pytest.mark.integration


def _code(person_id: str, agency_id: str) -> str:
    return agency_code(agency_id=agency_id, my_number=PEOPLE[person_id]["my_number"])


def test_identity_record_by_agency_code(portal_to_agency):
    body = agency_get(
        agency_id="municipal-resident", path=f"residents/{_code('yamada-hanako', 'municipal-resident')}"
    )
    assert body["name"] == PEOPLE["yamada-hanako"]["name"]
    assert "my_number" not in body


def test_self_information_category(portal_to_agency):
    code = _code("sato-misaki", "municipal-resident")
    body = agency_get(agency_id="municipal-resident", path=f"residents/{code}/self-information/household")
    assert body["category"] == "household" and body["agency_code"] == code
    assert body["subject"]["name"] == PEOPLE["sato-misaki"]["name"]


def test_code_of_another_agency_is_unknown(portal_to_agency):
    wrong = _code("yamada-hanako", "municipal-tax")
    with pytest.raises(AgencyError) as caught:
        agency_get(agency_id="municipal-resident", path=f"residents/{wrong}")
    assert not isinstance(caught.value, AgencyUnavailable)


def test_an_assertion_signed_by_another_key_is_refused(portal_to_agency, tmp_path, settings):
    from joserfc.jwk import ECKey

    stranger = tmp_path / "stranger.pem"
    stranger.write_bytes(ECKey.generate_key("P-256", private=True).as_pem(private=True))
    settings.AGENCY_CLIENT_KEY_FILE = str(stranger)
    with pytest.raises(AgencyError) as caught:
        agency_get(
            agency_id="municipal-resident", path=f"residents/{_code('yamada-hanako', 'municipal-resident')}"
        )
    assert "401" in str(caught.value)


def test_outage_is_retryable_and_recovers(portal_to_agency):
    path = f"residents/{_code('yamada-hanako', 'municipal-resident')}"
    portal_to_agency.set_faults("municipal-resident", outage=True)
    try:
        with pytest.raises(AgencyUnavailable):
            agency_get(agency_id="municipal-resident", path=path)
        # Another agency is not affected by this one's outage.
        other = _code("yamada-hanako", "municipal-tax")
        assert agency_get(agency_id="municipal-tax", path=f"residents/{other}")["agency_code"] == other
    finally:
        portal_to_agency.clear_faults("municipal-resident")
    assert agency_get(agency_id="municipal-resident", path=path)["name"]


def test_slow_agency_times_out(portal_to_agency):
    path = f"residents/{_code('yamada-hanako', 'municipal-resident')}"
    portal_to_agency.set_faults("municipal-resident", latency_ms=2000)
    try:
        with pytest.raises(AgencyUnavailable, match="Timeout"):
            agency_get(agency_id="municipal-resident", path=path, timeout=0.3)
    finally:
        portal_to_agency.clear_faults("municipal-resident")


def test_stopped_agency_is_unavailable(portal_to_agency, settings):
    from tests.integration.conftest import free_port

    settings.AGENCY_BASE_URL = f"http://127.0.0.1:{free_port()}"
    with pytest.raises(AgencyUnavailable):
        agency_get(agency_id="municipal-resident", path="residents/X")
