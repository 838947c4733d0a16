"""Injected faults and their control endpoints."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import replace

import pytest
from fastapi.testclient import TestClient

from simulators.agency.app import create_app
from simulators.agency.config import Settings

from .conftest import SERVED_BY, code_for

Auth = Callable[[str], dict[str, str]]
TOKEN = {"X-Control-Token": "demo-control-token"}
AGENCY = "health-insurer"


def _get(client: TestClient, auth: Auth, agency_id: str = AGENCY):
    return client.get(
        f"/agencies/{agency_id}/v1/residents/{code_for('yamada-hanako', agency_id)}", headers=auth(agency_id)
    )


def test_control_token_required(client: TestClient) -> None:
    url = f"/_control/agencies/{AGENCY}"
    missing = client.put(url, json={"outage": True})
    assert missing.status_code == 401 and missing.json()["error"] == "control_token_required"
    wrong = client.put(url, json={"outage": True}, headers={"X-Control-Token": "demo-control-tokeN"})
    assert wrong.status_code == 403 and wrong.json()["error"] == "bad_control_token"
    assert client.get(url).status_code == 401
    # Nothing changed.
    assert client.get(url, headers=TOKEN).json()["outage"] is False


def test_control_reports_defaults_then_override(client: TestClient) -> None:
    url = f"/_control/agencies/{AGENCY}"
    assert client.get(url, headers=TOKEN).json() == {
        "agency_id": AGENCY,
        "source": "default",
        "latency_ms": 0,
        "error_rate": 0.0,
        "outage": False,
        "retry_after_s": 30,
    }
    client.put(url, json={"latency_ms": 5, "error_rate": 0.25, "outage": False}, headers=TOKEN)
    client.put(url, json={"retry_after_s": 90}, headers=TOKEN)  # partial update keeps the rest
    body = client.get(url, headers=TOKEN).json()
    assert body["source"] == "override"
    assert (body["latency_ms"], body["error_rate"], body["retry_after_s"]) == (5, 0.25, 90)
    reset = client.delete(url, headers=TOKEN).json()
    assert reset["source"] == "default" and reset["latency_ms"] == 0


def test_control_validates_settings(client: TestClient) -> None:
    url = f"/_control/agencies/{AGENCY}"
    for bad in ({"error_rate": 1.5}, {"latency_ms": -1}, {"outage": "maybe"}, {"surprise": 1}):
        response = client.put(url, json=bad, headers=TOKEN)
        assert response.status_code == 422, bad
        assert response.json()["error"] == "invalid_request"
    assert client.put("/_control/agencies/nowhere", json={}, headers=TOKEN).status_code == 404


def test_outage_answers_503_with_retry_after(client: TestClient, auth: Auth) -> None:
    client.put(f"/_control/agencies/{AGENCY}", json={"outage": True, "retry_after_s": 45}, headers=TOKEN)
    response = _get(client, auth)
    assert response.status_code == 503
    assert response.headers["Retry-After"] == "45"
    assert response.json()["error"] == "agency_unavailable"
    # Other agencies are unaffected.
    assert _get(client, auth, "pension-service").status_code == 200
    client.put(f"/_control/agencies/{AGENCY}", json={"outage": False}, headers=TOKEN)
    assert _get(client, auth).status_code == 200


def test_error_rate_one_always_fails(client: TestClient, auth: Auth) -> None:
    client.put(f"/_control/agencies/{AGENCY}", json={"error_rate": 1}, headers=TOKEN)
    for _ in range(5):
        response = _get(client, auth)
        assert response.status_code == 500
        assert response.json()["error"] == "injected_error"


def test_error_rate_half_fails_some_but_not_all(client: TestClient, auth: Auth) -> None:
    client.put(f"/_control/agencies/{AGENCY}", json={"error_rate": 0.5}, headers=TOKEN)
    statuses = {_get(client, auth).status_code for _ in range(60)}
    assert statuses == {200, 500}  # chance of a false failure: 2 * 0.5**60


def test_latency_is_applied(client: TestClient, auth: Auth) -> None:
    headers = auth(AGENCY)
    url = f"/agencies/{AGENCY}/v1/residents/{code_for('yamada-hanako', AGENCY)}"
    client.put(f"/_control/agencies/{AGENCY}", json={"latency_ms": 300}, headers=TOKEN)
    started = time.perf_counter()
    assert client.get(url, headers=headers).status_code == 200
    assert time.perf_counter() - started >= 0.3


def test_settings_are_shared_between_processes(initialised: Settings, client: TestClient, auth: Auth) -> None:
    # A second app on the same database stands in for another worker process.
    with TestClient(create_app(initialised)) as other_worker:
        other_worker.put(f"/_control/agencies/{AGENCY}", json={"outage": True}, headers=TOKEN)
    assert _get(client, auth).status_code == 503


def test_defaults_come_from_the_environment_settings(initialised: Settings, auth: Auth) -> None:
    failing = replace(initialised, default_error_rate=1.0)
    with TestClient(create_app(failing)) as client:
        assert _get(client, auth).status_code == 500
        assert client.get(f"/_control/agencies/{AGENCY}", headers=TOKEN).json()["error_rate"] == 1.0


def test_control_token_comes_from_settings(initialised: Settings) -> None:
    custom = replace(initialised, control_token="s3cret")
    with TestClient(create_app(custom)) as client:
        assert client.get(f"/_control/agencies/{AGENCY}", headers=TOKEN).status_code == 403
        assert (
            client.get(f"/_control/agencies/{AGENCY}", headers={"X-Control-Token": "s3cret"}).status_code
            == 200
        )


# --- Every category, per agency -----------------------------------------------------------------------------


def _info(client: TestClient, auth: Auth, category: str, person_id: str = "tanaka-kazuo"):
    agency_id = SERVED_BY[category]
    url = f"/agencies/{agency_id}/v1/residents/{code_for(person_id, agency_id)}/self-information/{category}"
    return client.get(url, headers=auth(agency_id))


@pytest.mark.parametrize("category", sorted(SERVED_BY))
def test_an_outage_stops_only_that_agencys_categories(client: TestClient, auth: Auth, category: str) -> None:
    agency_id = SERVED_BY[category]
    control = f"/_control/agencies/{agency_id}"
    client.put(control, json={"outage": True, "retry_after_s": 7}, headers=TOKEN)
    down = _info(client, auth, category)
    assert down.status_code == 503 and down.headers["Retry-After"] == "7"
    assert down.json()["error"] == "agency_unavailable"
    for other, other_agency in SERVED_BY.items():
        expected = 503 if other_agency == agency_id else 200
        assert _info(client, auth, other).status_code == expected, other
    client.put(control, json={"outage": False, "error_rate": 1}, headers=TOKEN)
    failing = _info(client, auth, category)
    assert failing.status_code == 500 and failing.json()["error"] == "injected_error"
    client.delete(control, headers=TOKEN)
    assert _info(client, auth, category).status_code == 200  # back when the agency returns


def test_latency_is_per_agency(client: TestClient, auth: Auth) -> None:
    slow = "medical-insurance"
    client.put(f"/_control/agencies/{slow}", json={"latency_ms": 250}, headers=TOKEN)
    for category, agency_id in sorted(SERVED_BY.items()):
        started = time.perf_counter()
        assert _info(client, auth, category).status_code == 200
        elapsed = time.perf_counter() - started
        if agency_id == slow:
            assert elapsed >= 0.25, category
        else:
            assert elapsed < 0.25, category


def test_error_rate_is_per_agency(client: TestClient, auth: Auth) -> None:
    client.put("/_control/agencies/pension-service", json={"error_rate": 0.5}, headers=TOKEN)
    statuses = {_info(client, auth, "pension").status_code for _ in range(40)}
    assert statuses == {200, 500}  # chance of a false failure: 2 * 0.5**40
    assert {_info(client, auth, "income_tax").status_code for _ in range(10)} == {200}
