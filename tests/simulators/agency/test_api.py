"""Identity records and self-information as the contract describes them."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

import pytest
from fastapi.testclient import TestClient

from .conftest import CODE_AGENCIES, PEOPLE, code_for, person

Auth = Callable[[str], dict[str, str]]


def _info(client: TestClient, auth: Auth, agency_id: str, person_id: str, category: str) -> dict:
    url = f"/agencies/{agency_id}/v1/residents/{code_for(person_id, agency_id)}/self-information/{category}"
    response = client.get(url, headers=auth(agency_id))
    assert response.status_code == 200, response.text
    return response.json()


def test_healthz(client: TestClient) -> None:
    response = client.get("/healthz")
    assert response.status_code == 200 and response.json() == {"status": "ok"}


@pytest.mark.parametrize("agency_id", [a["id"] for a in CODE_AGENCIES])
def test_every_agency_serves_identity_records(client: TestClient, auth: Auth, agency_id: str) -> None:
    p = person("tanaka-kazuo")
    code = code_for("tanaka-kazuo", agency_id)
    response = client.get(f"/agencies/{agency_id}/v1/residents/{code}", headers=auth(agency_id))
    assert response.status_code == 200, response.text
    assert response.json() == {
        "agency_code": code,
        "name": p["name"],
        "name_kana": p["name_kana"],
        "birth_date": p["birth_date"],
        "sex": p["sex"],
        "address": p["address"],
    }


def test_mislinked_record_differs_only_at_the_named_agency(client: TestClient, auth: Auth) -> None:
    suzuki = person("suzuki-ichiro")
    mislink = suzuki["mislink"]
    names = {}
    for agency in CODE_AGENCIES:
        agency_id = agency["id"]
        url = f"/agencies/{agency_id}/v1/residents/{code_for('suzuki-ichiro', agency_id)}"
        body = client.get(url, headers=auth(agency_id)).json()
        names[agency_id] = (body["name"], body["birth_date"])
    assert names.pop(mislink["agency"]) == (mislink["name"], mislink["birth_date"])
    assert set(names.values()) == {(suzuki["name"], suzuki["birth_date"])}
    assert (mislink["name"], mislink["birth_date"]) != (suzuki["name"], suzuki["birth_date"])


def test_household_of_single_parent_lists_her_son(client: TestClient, auth: Auth) -> None:
    body = _info(client, auth, "municipal-resident", "sato-misaki", "household")
    assert body["agency_id"] == "municipal-resident"
    assert body["category"] == "household"
    assert body["agency_code"] == code_for("sato-misaki", "municipal-resident")
    assert body["subject"] == {"name": "佐藤 美咲", "name_kana": "サトウ ミサキ", "birth_date": "1990-04-12"}
    assert datetime.fromisoformat(body["as_of"]).utcoffset() is not None
    data = body["data"]
    assert data["household_id"] == "H-200"
    assert data["head"] == {"name": "佐藤 美咲", "name_kana": "サトウ ミサキ"}
    assert data["address"] == person("sato-misaki")["address"]
    assert data["municipality"] == {"code": "141046", "prefecture": "神奈川県", "name": "横浜市中区"}
    assert [(m["name"], m["relationship"]) for m in data["members"]] == [
        ("佐藤 美咲", "世帯主"),
        ("佐藤 陽翔", "子"),
    ]
    assert data["member_count"] == 2
    son = data["members"][1]
    assert son["birth_date"] == "2016-09-03" and son["name_kana"] == "サトウ ハルト"
    assert son["moved_in_on"] >= son["birth_date"]
    assert son["moved_in_reason"] in {"転入", "出生"}


def test_son_sees_the_same_household(client: TestClient, auth: Auth) -> None:
    mother = _info(client, auth, "municipal-resident", "sato-misaki", "household")["data"]
    son = _info(client, auth, "municipal-resident", "sato-haruto", "household")["data"]
    assert son == mother


def test_tanaka_father_and_daughter_live_apart(client: TestClient, auth: Auth) -> None:
    father = _info(client, auth, "municipal-resident", "tanaka-kazuo", "household")["data"]
    daughter = _info(client, auth, "municipal-resident", "tanaka-yuki", "household")["data"]
    assert father["household_id"] != daughter["household_id"]
    assert [m["name"] for m in father["members"]] == ["田中 和夫"]
    assert [m["name"] for m in daughter["members"]] == ["田中 由紀"]
    assert father["members"][0]["relationship"] == "世帯主"
    assert father["municipality"]["name"] == "大阪市北区"


def test_single_parent_receives_child_rearing_allowance(client: TestClient, auth: Auth) -> None:
    records = _info(client, auth, "municipal-child", "sato-misaki", "child_allowance")["data"]["records"]
    rearing = next(r for r in records if r["program"] == "児童扶養手当")
    assert rearing["recipient"] == {"name": "佐藤 美咲", "name_kana": "サトウ ミサキ"}
    assert rearing["children"] == [
        {"name": "佐藤 陽翔", "name_kana": "サトウ ハルト", "birth_date": "2016-09-03"}
    ]
    assert rearing["monthly_amount_yen"] == 46_690  # full amount for one child, FY2025
    assert rearing["payment_months"] == [1, 3, 5, 7, 9, 11]
    assert rearing["status_report"]["name"] == "現況届" and rearing["status_report"]["due_month"] == 8
    assert rearing["status"] == "支給中"


@pytest.mark.parametrize("person_id", [p["id"] for p in PEOPLE if p["id"] != "sato-misaki"])
def test_everyone_else_has_no_child_allowance_record(client: TestClient, auth: Auth, person_id: str) -> None:
    assert _info(client, auth, "municipal-child", person_id, "child_allowance")["data"] == {"records": []}


def test_unknown_agency(client: TestClient, auth: Auth) -> None:
    response = client.get("/agencies/ministry-of-magic/v1/residents/ABC", headers=auth("ministry-of-magic"))
    assert response.status_code == 404
    assert response.json()["error"] == "unknown_agency"


def test_unknown_code(client: TestClient, auth: Auth) -> None:
    # A real code, but of another agency: codes do not travel between agencies.
    foreign = code_for("yamada-hanako", "municipal-tax")
    response = client.get(
        f"/agencies/pension-service/v1/residents/{foreign}", headers=auth("pension-service")
    )
    assert response.status_code == 404
    assert response.json() == {"error": "unknown_code", "message": response.json()["message"]}


def test_unknown_code_needs_authentication_first(client: TestClient) -> None:
    assert client.get("/agencies/pension-service/v1/residents/NOPE").status_code == 401


@pytest.mark.parametrize(
    "agency_id,category",
    [
        ("municipal-tax", "household"),  # served by another agency
        ("medical-insurance", "health_insurance"),  # the insurers' data service serves only medical data
        ("municipal-resident", "no-such-category"),
    ],
)
def test_category_not_served(client: TestClient, auth: Auth, agency_id: str, category: str) -> None:
    code = code_for("yamada-hanako", agency_id)
    url = f"/agencies/{agency_id}/v1/residents/{code}/self-information/{category}"
    response = client.get(url, headers=auth(agency_id))
    assert response.status_code == 404
    assert response.json()["error"] == "category_not_served"


def test_unknown_route_answers_contract_json(client: TestClient) -> None:
    response = client.get("/nowhere")
    assert response.status_code == 404 and response.json()["error"] == "not_found"


def test_openapi_describes_the_contract(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    paths = spec["paths"]
    for path in (
        "/healthz",
        "/agencies/{agency_id}/v1/residents/{agency_code}",
        "/agencies/{agency_id}/v1/residents/{agency_code}/self-information/{category}",
        "/agencies/{agency_id}/v1/residents/{agency_code}/mislink-reports",
        "/_control/agencies/{agency_id}",
        "/_control/agencies/{agency_id}/mislink-reports",
    ):
        assert path in paths
    schemas = spec["components"]["schemas"]
    assert {
        "IdentityRecord",
        "SelfInformation",
        "IncomeTaxData",
        "HouseholdData",
        "PensionData",
        "HealthInsuranceData",
        "VaccinationData",
        "ChildAllowanceData",
        "LongTermCareData",
        "EmploymentInsuranceData",
        "DisabilityData",
        "MedicalDrugsData",
        "MedicalCheckupsData",
        "MedicalExpensesData",
        "MislinkReportRequest",
        "ErrorResponse",
    } <= set(schemas)
    assert "ClientAssertion" in spec["components"]["securitySchemes"]
    assert set(paths["/agencies/{agency_id}/v1/residents/{agency_code}"]["get"]["responses"]) >= {
        "200",
        "401",
        "404",
        "500",
        "503",
    }
    assert client.get("/docs").status_code == 200
