"""The mis-linked record (someone else's data under the resident's code) and the mis-link report endpoint."""

from __future__ import annotations

import sqlite3
import uuid
from collections.abc import Callable
from dataclasses import replace
from datetime import date
from typing import Any

import pytest
from fastapi.testclient import TestClient

from simulators.agency.categories import GENERATORS, AgencyWorld
from simulators.agency.config import Settings
from simulators.agency.seed import _as_seen_by, initialise

from .conftest import AGENCIES, PEOPLE, SERVED_BY, TODAY, AssertionMaker, SharedWorld, code_for, person

Auth = Callable[[str], dict[str, str]]
TOKEN = {"X-Control-Token": "demo-control-token"}
SUZUKI = person("suzuki-ichiro")
MISLINKED_AT = SUZUKI["mislink"]["agency"]
REPORT = {
    "category": "health_insurance",
    "reason": "identity_mismatch",
    "observed": {"name": True, "birth_date": True},
    "reported_at": "2026-11-23T10:00:00+09:00",
}


def _url(person_id: str = "suzuki-ichiro", agency_id: str = MISLINKED_AT) -> str:
    return f"/agencies/{agency_id}/v1/residents/{code_for(person_id, agency_id)}/mislink-reports"


def _post(client: TestClient, auth: Auth, body: Any = None, key: str | None = "k-1", **kw: Any):
    headers = {**auth(kw.pop("agency_id", MISLINKED_AT)), **({"Idempotency-Key": key} if key else {})}
    return client.post(kw.pop("url", _url()), json=REPORT if body is None else body, headers=headers)


def _reports(client: TestClient, agency_id: str = MISLINKED_AT) -> list[dict[str, Any]]:
    response = client.get(f"/_control/agencies/{agency_id}/mislink-reports", headers=TOKEN)
    assert response.status_code == 200, response.text
    return response.json()["reports"]


# --- The mis-linked record ----------------------------------------------------------------------------------


def test_mislinked_agency_names_someone_else_as_subject(shared: SharedWorld) -> None:
    category = next(c for c, a in SERVED_BY.items() if a == MISLINKED_AT)
    body = shared.envelope("suzuki-ichiro", category)
    mislink = SUZUKI["mislink"]
    assert body["subject"] == {k: mislink[k] for k in ("name", "name_kana", "birth_date")}
    assert (body["subject"]["name"], body["subject"]["birth_date"]) != (SUZUKI["name"], SUZUKI["birth_date"])
    # Every other agency has him right.
    for other, agency_id in SERVED_BY.items():
        if agency_id != MISLINKED_AT:
            subject = shared.envelope("suzuki-ichiro", other)["subject"]
            assert subject == {k: SUZUKI[k] for k in ("name", "name_kana", "birth_date")}, other


def test_mislinked_data_is_the_other_persons() -> None:
    """The payload at the mis-linked agency is not what that agency would hold for the real resident."""
    settings = Settings()
    residents = tuple(_as_seen_by(p, MISLINKED_AT) for p in PEOPLE)
    world = AgencyWorld(MISLINKED_AT, residents, settings.seed, TODAY)
    record = next(r for r in residents if r.demo_id == "suzuki-ichiro")
    assert record.mislinked and record.name == SUZUKI["mislink"]["name"]
    true_self = replace(
        record,
        name=SUZUKI["name"],
        birth_date=date.fromisoformat(SUZUKI["birth_date"]),
        mislinked=False,
    )
    true_world = replace(world, residents=tuple(true_self if r is record else r for r in residents))
    category = next(c for c, a in SERVED_BY.items() if a == MISLINKED_AT)
    theirs = GENERATORS[category](record, world)
    his = GENERATORS[category](true_self, true_world)
    assert theirs != his
    if category == "health_insurance":
        assert theirs["current"]["acquired_on"] != his["current"]["acquired_on"]
        assert (theirs["current"]["symbol"], theirs["current"]["number"]) != (
            his["current"]["symbol"],
            his["current"]["number"],
        )


# --- The report endpoint -----------------------------------------------------------------------------------


def test_report_is_received_and_stored(client: TestClient, auth: Auth) -> None:
    response = _post(client, auth)
    assert response.status_code == 202, response.text
    body = response.json()
    assert body["status"] == "received" and body["report_id"].startswith("MLR-")
    assert "Idempotent-Replayed" not in response.headers
    (stored,) = _reports(client)
    assert stored["report_id"] == body["report_id"]
    assert stored["agency_code"] == code_for("suzuki-ichiro", MISLINKED_AT)
    assert (stored["category"], stored["reason"]) == ("health_insurance", "identity_mismatch")
    assert stored["observed"] == {"name": True, "birth_date": True}
    assert stored["reported_at"] == "2026-11-23T10:00:00+09:00" and stored["idempotency_key"] == "k-1"
    assert _reports(client, "pension-service") == []  # each agency has its own


def test_report_never_carries_the_residents_attributes(
    client: TestClient, auth: Auth, initialised: Settings
) -> None:
    assert _post(client, auth).status_code == 202
    for key, value in (("name", SUZUKI["name"]), ("birth_date", SUZUKI["birth_date"])):
        smuggled = {**REPORT, "observed": {key: value}}
        response = _post(client, auth, smuggled, key=f"smuggle-{key}")
        assert response.status_code == 422, key  # flags only: a value is refused
        response = _post(client, auth, {**REPORT, "resident": {key: value}}, key=f"extra-{key}")
        assert response.status_code == 422, key  # and so is any field the contract does not name
    with sqlite3.connect(initialised.db_path) as conn:
        stored = " ".join(str(row) for row in conn.execute("SELECT * FROM mislink_reports"))
    assert SUZUKI["name"] not in stored and SUZUKI["birth_date"] not in stored


def test_same_key_same_report_is_answered_again(client: TestClient, auth: Auth) -> None:
    first = _post(client, auth, key="retry-me")
    again = _post(client, auth, key="retry-me")  # a redelivered task, with a fresh assertion
    assert first.status_code == again.status_code == 202
    assert again.json() == first.json()
    assert again.headers["Idempotent-Replayed"] == "true"
    assert len(_reports(client)) == 1


def test_same_key_other_report_is_refused(client: TestClient, auth: Auth) -> None:
    assert _post(client, auth, key="once").status_code == 202
    other = {**REPORT, "observed": {"name": True}}
    response = _post(client, auth, other, key="once")
    assert response.status_code == 422 and response.json()["error"] == "idempotency_key_reused"
    elsewhere = _post(client, auth, key="once", url=_url("yamada-hanako"))  # same key, another resident
    assert elsewhere.status_code == 422
    assert len(_reports(client)) == 1


def test_keys_are_per_report(client: TestClient, auth: Auth) -> None:
    assert _post(client, auth, key=str(uuid.uuid4())).status_code == 202
    assert _post(client, auth, key=str(uuid.uuid4())).status_code == 202
    assert len({r["report_id"] for r in _reports(client)}) == 2


@pytest.mark.parametrize(
    "key,error",
    [
        (None, "idempotency_key_required"),
        ("", "idempotency_key_required"),
        ("x" * 256, "invalid_idempotency_key"),
    ],
)
def test_idempotency_key_is_required(client: TestClient, auth: Auth, key: str | None, error: str) -> None:
    headers = {**auth(MISLINKED_AT), **({"Idempotency-Key": key} if key is not None else {})}
    response = client.post(_url(), json=REPORT, headers=headers)
    assert response.status_code == 400 and response.json()["error"] == error
    assert _reports(client) == []


@pytest.mark.parametrize(
    "change",
    [
        {"observed": {}},
        {"observed": {"name": False, "birth_date": False}},
        {"observed": {"name": "yes"}},
        {"observed": {"address": True}},
        {"reported_at": "2026-11-23T10:00:00"},  # no offset
        {"reported_at": "yesterday"},
        {"reason": ""},
        {"reason": "Identity Mismatch!"},
        {"category": "../etc"},
    ],
)
def test_report_is_validated(client: TestClient, auth: Auth, change: dict[str, Any]) -> None:
    response = _post(client, auth, {**REPORT, **change})
    assert response.status_code == 422, change
    assert response.json()["error"] == "invalid_request"
    assert _reports(client) == []


def test_missing_fields_are_refused(client: TestClient, auth: Auth) -> None:
    for field in REPORT:
        body = {k: v for k, v in REPORT.items() if k != field}
        assert _post(client, auth, body, key=f"missing-{field}").status_code == 422, field


def test_category_must_be_one_the_agency_serves(client: TestClient, auth: Auth) -> None:
    response = _post(client, auth, {**REPORT, "category": "pension"})
    assert response.status_code == 422 and response.json()["error"] == "category_not_served"


def test_report_needs_a_valid_assertion_for_that_agency(
    client: TestClient, auth: Auth, make_assertion: AssertionMaker
) -> None:
    no_auth = client.post(_url(), json=REPORT, headers={"Idempotency-Key": "a"})
    assert no_auth.status_code == 401
    # Even an invalid body is not looked at before the caller is known.
    assert client.post(_url(), json={"nonsense": 1}, headers={"Idempotency-Key": "a"}).status_code == 401
    wrong_audience = _post(client, auth, agency_id="pension-service")
    assert wrong_audience.status_code == 401 and wrong_audience.json()["error"] == "invalid_assertion"
    token = make_assertion(MISLINKED_AT)
    headers = {"Authorization": f"Bearer {token}", "Idempotency-Key": "replay"}
    assert client.post(_url(), json=REPORT, headers=headers).status_code == 202
    replayed = client.post(_url(), json=REPORT, headers=headers)
    assert replayed.status_code == 401 and replayed.json()["error"] == "replayed_assertion"
    assert len(_reports(client)) == 1


def test_unknown_code_or_agency(client: TestClient, auth: Auth) -> None:
    foreign = code_for("suzuki-ichiro", "pension-service")  # codes do not travel between agencies
    url = f"/agencies/{MISLINKED_AT}/v1/residents/{foreign}/mislink-reports"
    response = _post(client, auth, url=url)
    assert response.status_code == 404 and response.json()["error"] == "unknown_code"
    response = _post(
        client, auth, url="/agencies/nowhere/v1/residents/X/mislink-reports", agency_id="nowhere"
    )
    assert response.status_code == 404 and response.json()["error"] == "unknown_agency"


def test_faults_apply_to_reports(client: TestClient, auth: Auth) -> None:
    control = f"/_control/agencies/{MISLINKED_AT}"
    client.put(control, json={"outage": True, "retry_after_s": 12}, headers=TOKEN)
    response = _post(client, auth, key="during-outage")
    assert response.status_code == 503 and response.headers["Retry-After"] == "12"
    client.put(control, json={"outage": False, "error_rate": 1}, headers=TOKEN)
    assert _post(client, auth, key="during-errors").status_code == 500
    client.delete(control, headers=TOKEN)
    assert _reports(client) == []  # nothing was stored by refused requests
    assert _post(client, auth, key="during-outage").status_code == 202


def test_control_listing_needs_the_token(client: TestClient) -> None:
    url = f"/_control/agencies/{MISLINKED_AT}/mislink-reports"
    assert client.get(url).status_code == 401
    assert client.get(url, headers={"X-Control-Token": "nope"}).status_code == 403
    assert client.get("/_control/agencies/nowhere/mislink-reports", headers=TOKEN).status_code == 404


def test_control_can_clear_reports(client: TestClient, auth: Auth) -> None:
    assert _post(client, auth).status_code == 202
    response = client.delete(f"/_control/agencies/{MISLINKED_AT}/mislink-reports", headers=TOKEN)
    assert response.status_code == 200 and response.json() == {"agency_id": MISLINKED_AT, "reports": []}
    assert _reports(client) == []


def test_reports_outlive_init(client: TestClient, auth: Auth, initialised: Settings) -> None:
    assert _post(client, auth).status_code == 202
    initialise(initialised, today=TODAY)
    assert len(_reports(client)) == 1


def test_every_agency_takes_reports(client: TestClient, auth: Auth) -> None:
    for agency in AGENCIES:
        served = [c for c in agency["categories"] if c != "provision_records"]
        if not served:
            continue
        body = {**REPORT, "category": served[0]}
        response = _post(
            client,
            auth,
            body,
            key=f"k-{agency['id']}",
            agency_id=agency["id"],
            url=_url(agency_id=agency["id"]),
        )
        assert response.status_code == 202, (agency["id"], response.text)
