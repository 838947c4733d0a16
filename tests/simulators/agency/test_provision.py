"""Information-provision records (情報提供等記録) served by the information provision network."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from dataclasses import replace
from datetime import date, datetime, timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from simulators.agency.config import Settings
from simulators.agency.seed import initialise

from .conftest import PEOPLE, TODAY, code_for

Auth = Callable[[str], dict[str, str]]
NETWORK = "info-network"
TOKEN = {"X-Control-Token": "demo-control-token"}
ACT = "行政手続における特定の個人を識別するための番号の利用等に関する法律"


def _url(person_id: str, agency_id: str = NETWORK) -> str:
    return f"/agencies/{agency_id}/v1/residents/{code_for(person_id, agency_id)}/provision-records"


def _records(client: TestClient, auth: Auth, person_id: str, **params: str) -> list[dict]:
    response = client.get(_url(person_id), headers=auth(NETWORK), params=params)
    assert response.status_code == 200, response.text
    return response.json()["records"]


def _dump(db: Path) -> list[tuple]:
    with sqlite3.connect(db) as conn:
        return list(conn.execute("SELECT * FROM provision_records ORDER BY 1, 2, 3"))


def test_answer_follows_the_contract(client: TestClient, auth: Auth) -> None:
    response = client.get(_url("sato-misaki"), headers=auth(NETWORK))
    assert response.status_code == 200, response.text
    body = response.json()
    assert set(body) == {"agency_code", "as_of", "records"}
    assert body["agency_code"] == code_for("sato-misaki", NETWORK)
    assert datetime.fromisoformat(body["as_of"]).utcoffset() == timedelta(hours=9)
    record = body["records"][0]
    assert set(record) == {
        "id",
        "occurred_at",
        "requester",
        "provider",
        "procedure_ja",
        "procedure_en",
        "legal_basis",
        "items_ja",
        "items_en",
        "status",
    }
    assert set(record["requester"]) == set(record["provider"]) == {"id", "name_ja", "name_en"}


@pytest.mark.parametrize("person_id", [p["id"] for p in PEOPLE])
def test_every_demo_person_has_a_plausible_history(client: TestClient, auth: Auth, person_id: str) -> None:
    records = _records(client, auth, person_id)
    assert 5 <= len(records) <= 40
    assert len({r["id"] for r in records}) == len(records)
    times = [datetime.fromisoformat(r["occurred_at"]) for r in records]
    assert times == sorted(times)  # oldest first
    assert all(t.utcoffset() == timedelta(hours=9) for t in times)
    assert all(t.weekday() < 5 and 8 <= t.hour < 18 for t in times)  # offices answer on working days
    assert all(t.date() < TODAY for t in times)
    assert len({t.year for t in times}) >= 2  # spans several years
    assert min(t.year for t in times) >= TODAY.year - 6  # the network keeps seven years
    for r in records:
        assert r["legal_basis"].startswith(ACT)
        assert (
            r["requester"]["id"] != r["provider"]["id"]
            or r["requester"]["name_ja"] != r["provider"]["name_ja"]
        )
        assert r["status"] in {"provided", "no_record"}
        assert all(r[k] for k in ("procedure_ja", "procedure_en", "items_ja", "items_en"))


def test_single_parent_allowance_office_asks_for_income_and_pension_each_august(
    client: TestClient, auth: Auth
) -> None:
    records = _records(client, auth, "sato-misaki")
    rearing = [r for r in records if r["procedure_ja"].startswith("児童扶養手当")]
    by_provider: dict[str, set[int]] = {}
    for r in rearing:
        occurred = datetime.fromisoformat(r["occurred_at"])
        assert occurred.month in (8, 9)  # the 現況届 is due in August; answers follow within days
        assert r["requester"]["id"] == "municipal-child"
        assert r["requester"]["name_ja"] == "横浜市中区 子育て支援課"
        by_provider.setdefault(r["provider"]["id"], set()).add(occurred.year)
    years = set(range(TODAY.year - 6, TODAY.year + 1))
    assert by_provider == {"municipal-tax": years, "pension-service": years}
    # She receives no public pension: the pension service has nothing to provide.
    assert {r["status"] for r in rearing if r["provider"]["id"] == "pension-service"} == {"no_record"}
    assert any(r["items_ja"].startswith("地方税関係情報") for r in rearing)


def test_care_insurer_asks_about_the_elderly_fathers_income(client: TestClient, auth: Auth) -> None:
    records = _records(client, auth, "tanaka-kazuo")
    care_income = [
        r
        for r in records
        if r["requester"]["id"] == "care-insurer" and r["provider"]["id"] == "municipal-tax"
    ]
    assert len(care_income) == 7  # every July the network holds
    assert all(datetime.fromisoformat(r["occurred_at"]).month == 7 for r in care_income)
    assert any(r["requester"]["id"] == "elderly-medical-union" for r in records)
    assert "大阪市北区" in care_income[0]["requester"]["name_ja"]


def test_the_son_has_his_own_records(client: TestClient, auth: Auth) -> None:
    son = _records(client, auth, "sato-haruto")
    mother = _records(client, auth, "sato-misaki")
    assert {r["id"] for r in son}.isdisjoint({r["id"] for r in mother})
    assert all(datetime.fromisoformat(r["occurred_at"]).date() > date(2016, 9, 3) for r in son)
    assert any(r["procedure_ja"].startswith("小児医療費助成") for r in son)


def test_working_age_residents_have_varied_stories(client: TestClient, auth: Auth) -> None:
    requesters = {
        r["requester"]["id"]
        for person_id in ("yamada-hanako", "tanaka-yuki", "smith-john", "suzuki-ichiro", "takahashi-ken")
        for r in _records(client, auth, person_id)
    }
    # Every life path appears: job seeker, public housing, student loan, self-employed, disability care.
    assert {"hello-work", "municipal-housing", "jasso", "pension-service", "municipal-welfare"} <= requesters


def test_since_keeps_records_from_that_day_on(client: TestClient, auth: Auth) -> None:
    everything = _records(client, auth, "tanaka-kazuo")
    recent = _records(client, auth, "tanaka-kazuo", since="2024-07-01")
    assert recent == [r for r in everything if r["occurred_at"] >= "2024-07-01"]
    assert 0 < len(recent) < len(everything)
    assert _records(client, auth, "tanaka-kazuo", since="2099-01-01") == []


def test_since_must_be_a_date(client: TestClient, auth: Auth) -> None:
    response = client.get(_url("tanaka-kazuo"), headers=auth(NETWORK), params={"since": "last week"})
    assert response.status_code == 422 and response.json()["error"] == "invalid_request"


def test_records_are_deterministic_and_keep_their_ids_as_years_pass(
    initialised: Settings, tmp_path: Path
) -> None:
    twin = replace(initialised, data_dir=tmp_path / "twin")
    initialise(twin, today=TODAY)
    assert _dump(twin.db_path) == _dump(initialised.db_path)
    initialise(initialised, today=TODAY)
    assert _dump(initialised.db_path) == _dump(twin.db_path)  # init again: the same records

    later = replace(initialised, data_dir=tmp_path / "later")
    initialise(later, today=TODAY + timedelta(days=400))
    now, then = set(_dump(initialised.db_path)), set(_dump(later.db_path))
    kept = {row for row in now if row[3] >= f"{TODAY.year - 5}-01-01"}  # still within seven years
    assert kept and kept <= then  # same id, same time, same content
    assert then - now  # and new exchanges happened meanwhile

    other = replace(initialised, data_dir=tmp_path / "other", seed=7)
    initialise(other, today=TODAY)
    assert {r[2] for r in _dump(other.db_path)}.isdisjoint({r[2] for r in _dump(initialised.db_path)})


def test_only_the_network_serves_provision_records(client: TestClient, auth: Auth) -> None:
    response = client.get(_url("sato-misaki", "municipal-tax"), headers=auth("municipal-tax"))
    assert response.status_code == 404 and response.json()["error"] == "category_not_served"
    # Nor does the network answer them as a self-information category.
    code = code_for("sato-misaki", NETWORK)
    url = f"/agencies/{NETWORK}/v1/residents/{code}/self-information/provision_records"
    response = client.get(url, headers=auth(NETWORK))
    assert response.status_code == 404 and response.json()["error"] == "category_not_served"


def test_codes_do_not_travel_between_agencies(client: TestClient, auth: Auth) -> None:
    foreign = code_for("sato-misaki", "municipal-child")
    response = client.get(
        f"/agencies/{NETWORK}/v1/residents/{foreign}/provision-records", headers=auth(NETWORK)
    )
    assert response.status_code == 404 and response.json()["error"] == "unknown_code"


def test_assertion_is_required_and_bound_to_the_network(client: TestClient, auth: Auth) -> None:
    assert client.get(_url("sato-misaki")).status_code == 401
    response = client.get(_url("sato-misaki"), headers=auth("municipal-child"))  # aud of another agency
    assert response.status_code == 401 and response.json()["error"] == "invalid_assertion"


def test_outage_and_injected_errors_apply_to_the_network(client: TestClient, auth: Auth) -> None:
    control = f"/_control/agencies/{NETWORK}"
    client.put(control, json={"outage": True, "retry_after_s": 60}, headers=TOKEN)
    response = client.get(_url("sato-misaki"), headers=auth(NETWORK))
    assert response.status_code == 503 and response.headers["Retry-After"] == "60"
    assert response.json()["error"] == "agency_unavailable"
    client.put(control, json={"outage": False, "error_rate": 1}, headers=TOKEN)
    response = client.get(_url("sato-misaki"), headers=auth(NETWORK))
    assert response.status_code == 500 and response.json()["error"] == "injected_error"
    client.delete(control, headers=TOKEN)
    assert client.get(_url("sato-misaki"), headers=auth(NETWORK)).status_code == 200


def test_openapi_describes_provision_records(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    operation = spec["paths"]["/agencies/{agency_id}/v1/residents/{agency_code}/provision-records"]["get"]
    assert {"200", "401", "404", "500", "503"} <= set(operation["responses"])
    assert any(p["name"] == "since" for p in operation["parameters"])
    assert {"ProvisionRecords", "ProvisionRecord", "Party"} <= set(spec["components"]["schemas"])
