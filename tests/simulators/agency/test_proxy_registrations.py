"""代理人の登録: the medical insurer's registered proxies, registered and withdrawn by the portal, and the
insurer's rule for a proxy's request (``Proxy-Registration``): only under a registration of that very
resident that is active and unexpired."""

from __future__ import annotations

import sqlite3
import uuid
from collections.abc import Callable
from datetime import date, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from simulators.agency.config import Settings
from simulators.agency.proxies import proxy_refusal
from simulators.agency.seed import JST, initialise
from simulators.agency.store import ProxyRegistrationRow

from .conftest import TODAY, AssertionMaker, code_for

Auth = Callable[[str], dict[str, str]]
TOKEN = {"X-Control-Token": "demo-control-token"}
INSURER = "medical-insurance"
PRINCIPAL, PROXY, OTHER = "tanaka-kazuo", "tanaka-yuki", "yamada-hanako"


def _today() -> date:
    return datetime.now(JST).date()


def _base(person_id: str = PRINCIPAL, agency_id: str = INSURER) -> str:
    return f"/agencies/{agency_id}/v1/residents/{code_for(person_id, agency_id)}"


def _body(key: str, **change: Any) -> dict[str, Any]:
    body = {
        "registration_id": key,
        "proxy": {"agency_code": code_for(PROXY, INSURER), "name": "田中 由紀"},
        "relationship": "voluntary",
        "valid_until": (_today() + timedelta(days=30)).isoformat(),
    }
    body.update(change)
    return body


def _register(client: TestClient, auth: Auth, key: str, person_id: str = PRINCIPAL, **change: Any):
    """Registers under ``key`` (a ``registration_id`` in ``change`` replaces it in the body)."""
    return client.post(
        f"{_base(person_id)}/proxy-registrations",
        json=_body(key, **change),
        headers=auth(INSURER),
    )


def _withdraw(
    client: TestClient, auth: Auth, registration_id: str, person_id: str = PRINCIPAL, reason: Any = "expired"
):
    return client.post(
        f"{_base(person_id)}/proxy-registrations/{registration_id}/withdrawal",
        json={"reason": reason},
        headers=auth(INSURER),
    )


def _fetch(
    client: TestClient,
    auth: Auth,
    registration_id: str | None,
    category: str = "medical_drugs",
    person_id: str = PRINCIPAL,
    agency_id: str = INSURER,
):
    headers = auth(agency_id)
    if registration_id is not None:
        headers["Proxy-Registration"] = registration_id
    return client.get(f"{_base(person_id, agency_id)}/self-information/{category}", headers=headers)


def _held(client: TestClient) -> dict[str, dict[str, Any]]:
    response = client.get(f"/_control/agencies/{INSURER}/proxy-registrations", headers=TOKEN)
    assert response.status_code == 200, response.text
    return {r["registration_id"]: r for r in response.json()["registrations"]}


@pytest.fixture
def registration_id() -> str:
    return str(uuid.uuid4())


# --- registering, and a proxy's requests under the registration -------------------------------------------


def test_a_registered_proxy_is_answered_and_the_read_is_counted(
    client: TestClient, auth: Auth, registration_id: str
) -> None:
    response = _register(client, auth, registration_id)
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["registration_id"] == registration_id and body["status"] == "active"
    assert body["agency_code"] == code_for(PRINCIPAL, INSURER) and body["relationship"] == "voluntary"
    assert body["registered_at"].endswith("+09:00")

    for category in ("medical_drugs", "medical_checkups", "medical_expenses"):
        fetched = _fetch(client, auth, registration_id, category)
        assert fetched.status_code == 200, fetched.text
        assert fetched.json()["agency_code"] == code_for(PRINCIPAL, INSURER)  # the principal's data
    held = _held(client)[registration_id]
    assert held["reads"] == 3 and held["proxy_code"] == code_for(PROXY, INSURER)
    assert held["proxy_name"] == "田中 由紀" and held["withdrawn_at"] is None


def test_requests_without_the_header_are_the_residents_own_as_before(client: TestClient, auth: Auth) -> None:
    assert _fetch(client, auth, None).status_code == 200
    assert _held(client) == {}


@pytest.mark.parametrize("relationship", ["voluntary", "parent", "guardian"])
def test_each_relationship_may_be_registered(
    client: TestClient, auth: Auth, registration_id: str, relationship: str
) -> None:
    assert _register(client, auth, registration_id, relationship=relationship).status_code == 201
    assert _held(client)[registration_id]["relationship"] == relationship


def test_the_same_registration_again_answers_the_stored_one(
    client: TestClient, auth: Auth, registration_id: str
) -> None:
    first = _register(client, auth, registration_id).json()
    again = _register(client, auth, registration_id)
    assert again.status_code == 200 and again.headers["Idempotent-Replayed"] == "true"
    assert again.json() == first
    assert len(_held(client)) == 1


@pytest.mark.parametrize(
    "change",
    [
        {"relationship": "parent"},
        {"proxy": {"agency_code": "A" * 26, "name": "田中 由紀"}},
        {"valid_until": (date.today() + timedelta(days=99)).isoformat()},
    ],
)
def test_the_same_id_with_other_terms_is_refused(
    client: TestClient, auth: Auth, registration_id: str, change: dict[str, Any]
) -> None:
    assert _register(client, auth, registration_id).status_code == 201
    refused = _register(client, auth, registration_id, **change)
    assert refused.status_code == 422 and refused.json()["error"] == "registration_id_reused"


def test_the_same_id_for_another_resident_is_refused(
    client: TestClient, auth: Auth, registration_id: str
) -> None:
    assert _register(client, auth, registration_id).status_code == 201
    refused = _register(client, auth, registration_id, person_id=OTHER)
    assert refused.status_code == 422 and refused.json()["error"] == "registration_id_reused"


# --- refusals of a proxy's request -------------------------------------------------------------------------


def test_an_unknown_registration_is_refused(client: TestClient, auth: Auth) -> None:
    refused = _fetch(client, auth, str(uuid.uuid4()))
    assert refused.status_code == 403 and refused.json()["error"] == "proxy_not_registered"
    assert "data" not in refused.json()


def test_a_registration_opens_only_its_own_residents_records(
    client: TestClient, auth: Auth, registration_id: str
) -> None:
    assert _register(client, auth, registration_id).status_code == 201
    refused = _fetch(client, auth, registration_id, person_id=OTHER)
    assert refused.status_code == 403 and refused.json()["error"] == "proxy_not_registered"
    assert _held(client)[registration_id]["reads"] == 0


def test_a_withdrawn_registration_is_refused_and_never_active_again(
    client: TestClient, auth: Auth, registration_id: str
) -> None:
    assert _register(client, auth, registration_id).status_code == 201
    assert _fetch(client, auth, registration_id).status_code == 200

    withdrawn = _withdraw(client, auth, registration_id, reason="ended_by_principal")
    assert withdrawn.status_code == 200, withdrawn.text
    assert withdrawn.json()["status"] == "withdrawn" and "Idempotent-Replayed" not in withdrawn.headers
    refused = _fetch(client, auth, registration_id)
    assert refused.status_code == 403 and refused.json()["error"] == "proxy_registration_withdrawn"

    again = _withdraw(client, auth, registration_id, reason="ended_by_principal")
    assert again.status_code == 200 and again.headers["Idempotent-Replayed"] == "true"
    assert again.json() == withdrawn.json()
    late = _register(client, auth, registration_id)
    assert late.status_code == 409 and late.json()["error"] == "registration_withdrawn"
    held = _held(client)[registration_id]
    assert held["withdrawal_reason"] == "ended_by_principal" and held["reads"] == 1
    # The resident's own requests go on as before.
    assert _fetch(client, auth, None).status_code == 200


def test_a_withdrawal_that_arrives_first_refuses_the_registration_after_it(
    client: TestClient, auth: Auth, registration_id: str
) -> None:
    withdrawn = _withdraw(client, auth, registration_id)
    assert withdrawn.status_code == 200 and withdrawn.json()["status"] == "withdrawn"
    late = _register(client, auth, registration_id)
    assert late.status_code == 409 and late.json()["error"] == "registration_withdrawn"
    refused = _fetch(client, auth, registration_id)
    assert refused.status_code == 403 and refused.json()["error"] == "proxy_not_registered"


def test_an_expired_registration_is_refused(
    client: TestClient, auth: Auth, registration_id: str, initialised: Settings
) -> None:
    assert _register(client, auth, registration_id, valid_until=_today().isoformat()).status_code == 201
    assert _fetch(client, auth, registration_id).status_code == 200  # its last day still counts
    with sqlite3.connect(initialised.db_path) as conn:  # a day later
        conn.execute(
            "UPDATE proxy_registrations SET valid_until = ? WHERE registration_id = ?",
            ((_today() - timedelta(days=1)).isoformat(), registration_id),
        )
    refused = _fetch(client, auth, registration_id)
    assert refused.status_code == 403 and refused.json()["error"] == "proxy_registration_expired"


def test_the_rule_for_a_proxys_request() -> None:
    def row(**change: Any) -> ProxyRegistrationRow:
        fields: dict[str, Any] = {
            "agency_id": INSURER,
            "registration_id": "r-00000001",
            "agency_code": "P" * 26,
            "proxy_code": "Q" * 26,
            "proxy_name": "代理 人",
            "relationship": "voluntary",
            "valid_until": "2026-11-30",
            "registered_at": "2026-11-01T10:00:00+09:00",
            "withdrawn_at": None,
            "withdrawal_reason": "",
            "fingerprint": "f",
        }
        return ProxyRegistrationRow(**{**fields, **change})

    def error(registration: ProxyRegistrationRow | None, today: date = TODAY) -> str | None:
        refusal = proxy_refusal(registration, agency_code="P" * 26, today=today)
        return None if refusal is None else refusal.error

    assert error(row()) is None
    assert error(row(), today=date(2026, 11, 30)) is None
    assert error(row(), today=date(2026, 12, 1)) == "proxy_registration_expired"
    assert error(None) == "proxy_not_registered"
    assert error(row(agency_code="X" * 26)) == "proxy_not_registered"
    assert error(row(registered_at=None, withdrawn_at="2026-11-01T10:00:00+09:00")) == "proxy_not_registered"
    assert error(row(withdrawn_at="2026-11-02T10:00:00+09:00")) == "proxy_registration_withdrawn"


# --- who keeps registrations, and bad input -----------------------------------------------------------------


def test_only_the_medical_insurer_keeps_registrations(client: TestClient, auth: Auth) -> None:
    agency = "municipal-tax"
    response = client.post(
        f"{_base(PRINCIPAL, agency)}/proxy-registrations", json=_body(str(uuid.uuid4())), headers=auth(agency)
    )
    assert response.status_code == 404 and response.json()["error"] == "proxy_registrations_not_served"
    refused = _fetch(client, auth, str(uuid.uuid4()), category="income_tax", agency_id=agency)
    assert refused.status_code == 403 and refused.json()["error"] == "proxy_not_registered"


@pytest.mark.parametrize(
    ("change", "status", "error"),
    [
        ({"valid_until": "2001-01-01"}, 422, "valid_until_in_past"),
        ({"valid_until": 1893456000}, 422, "invalid_request"),
        ({"valid_until": "next week"}, 422, "invalid_request"),
        ({"relationship": "friend"}, 422, "invalid_request"),
        ({"registration_id": "short"}, 422, "invalid_request"),
        ({"registration_id": "../../etc/passwd"}, 422, "invalid_request"),
        ({"proxy": {"agency_code": "not-a-code", "name": "田中 由紀"}}, 422, "invalid_request"),
        ({"proxy": {"agency_code": "A" * 26, "name": "  "}}, 422, "invalid_request"),
        ({"proxy": {"agency_code": "A" * 26, "name": "田中\x00由紀"}}, 422, "invalid_request"),
        ({"proxy": {"agency_code": "A" * 26, "name": "田中 由紀", "my_number": "123456789012"}}, 422, None),
        ({"my_number": "123456789012"}, 422, "invalid_request"),
    ],
)
def test_a_bad_registration_is_refused_and_nothing_kept(
    client: TestClient, auth: Auth, change: dict[str, Any], status: int, error: str | None
) -> None:
    response = _register(client, auth, str(uuid.uuid4()), **change)
    assert response.status_code == status, response.text
    assert response.json()["error"] == (error or "invalid_request")
    assert _held(client) == {}


def test_the_resident_cannot_be_their_own_proxy(client: TestClient, auth: Auth) -> None:
    own = {"agency_code": code_for(PRINCIPAL, INSURER), "name": "田中 和夫"}
    response = _register(client, auth, str(uuid.uuid4()), proxy=own)
    assert response.status_code == 422 and response.json()["error"] == "proxy_is_principal"


def test_an_unknown_resident_is_404(client: TestClient, auth: Auth) -> None:
    response = client.post(
        f"/agencies/{INSURER}/v1/residents/{'Z' * 26}/proxy-registrations",
        json=_body(str(uuid.uuid4())),
        headers=auth(INSURER),
    )
    assert response.status_code == 404 and response.json()["error"] == "unknown_code"


def test_the_assertion_is_checked_before_the_body(client: TestClient, make_assertion: AssertionMaker) -> None:
    url = f"{_base()}/proxy-registrations"
    assert client.post(url, json={"nonsense": True}).status_code == 401
    wrong_audience = {"Authorization": f"Bearer {make_assertion('municipal-tax')}"}
    assert client.post(url, json=_body(str(uuid.uuid4())), headers=wrong_audience).status_code == 401
    withdrawal = f"{url}/{uuid.uuid4()}/withdrawal"
    assert client.post(withdrawal, json={"reason": "expired"}).status_code == 401


def test_withdrawing_another_residents_registration_is_404(
    client: TestClient, auth: Auth, registration_id: str
) -> None:
    assert _register(client, auth, registration_id).status_code == 201
    refused = _withdraw(client, auth, registration_id, person_id=OTHER)
    assert refused.status_code == 404 and refused.json()["error"] == "unknown_registration"
    assert _held(client)[registration_id]["withdrawn_at"] is None
    assert _fetch(client, auth, registration_id).status_code == 200


@pytest.mark.parametrize("reason", ["", "Ended", "x" * 80, 7, None])
def test_a_bad_withdrawal_is_refused(
    client: TestClient, auth: Auth, registration_id: str, reason: Any
) -> None:
    assert _register(client, auth, registration_id).status_code == 201
    refused = _withdraw(client, auth, registration_id, reason=reason)
    assert refused.status_code == 422 and refused.json()["error"] == "invalid_request"
    assert _fetch(client, auth, registration_id).status_code == 200


def test_a_bad_registration_id_in_the_path_is_refused(client: TestClient, auth: Auth) -> None:
    refused = _withdraw(client, auth, "x")
    assert refused.status_code == 422 and refused.json()["error"] == "invalid_request"
    assert _held(client) == {}


def test_faults_apply_to_registrations(client: TestClient, auth: Auth, registration_id: str) -> None:
    assert (
        client.put(f"/_control/agencies/{INSURER}", json={"outage": True}, headers=TOKEN).status_code == 200
    )
    try:
        down = _register(client, auth, registration_id)
        assert down.status_code == 503 and "Retry-After" in down.headers
        assert _withdraw(client, auth, registration_id).status_code == 503
    finally:
        client.delete(f"/_control/agencies/{INSURER}", headers=TOKEN)
    assert _held(client) == {}


# --- the control API, init, the description -----------------------------------------------------------------


@pytest.mark.parametrize("method", ["GET", "DELETE"])
def test_control_needs_the_token(client: TestClient, method: str) -> None:
    response = client.request(method, f"/_control/agencies/{INSURER}/proxy-registrations")
    assert response.status_code == 401


def test_registrations_outlive_init_and_are_cleared_by_control(
    client: TestClient, auth: Auth, registration_id: str, initialised: Settings
) -> None:
    assert _register(client, auth, registration_id).status_code == 201
    initialise(initialised, today=TODAY)
    assert registration_id in _held(client)
    assert _fetch(client, auth, registration_id).status_code == 200
    assert (
        client.delete(f"/_control/agencies/{INSURER}/proxy-registrations", headers=TOKEN).status_code == 200
    )
    assert _held(client) == {}


def test_openapi_describes_registrations(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    base = "/agencies/{agency_id}/v1/residents/{agency_code}/proxy-registrations"
    assert "post" in spec["paths"][base]
    assert "post" in spec["paths"][f"{base}/{{registration_id}}/withdrawal"]
    fetch = spec["paths"]["/agencies/{agency_id}/v1/residents/{agency_code}/self-information/{category}"][
        "get"
    ]
    assert "Proxy-Registration" in {p["name"] for p in fetch["parameters"]}
    assert "403" in fetch["responses"]
    request = spec["components"]["schemas"]["ProxyRegistrationRequest"]
    assert set(request["required"]) == {"registration_id", "proxy", "relationship", "valid_until"}
    assert "my_number" not in str(request).lower()
