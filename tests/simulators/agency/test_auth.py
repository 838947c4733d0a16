"""Client-assertion checks: only a fresh, correctly signed, correctly addressed, unused assertion passes."""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient
from joserfc.jwk import ECKey

from simulators.agency.config import Settings

from .conftest import KID, AssertionMaker, code_for, sign, write_jwks

AGENCY = "pension-service"


def _path(agency_id: str = AGENCY, person_id: str = "yamada-hanako") -> str:
    return f"/agencies/{agency_id}/v1/residents/{code_for(person_id, agency_id)}"


def _refused(client: TestClient, headers: dict[str, str], error: str | None = None) -> dict[str, str]:
    response = client.get(_path(), headers=headers)
    assert response.status_code == 401, response.text
    body = response.json()
    assert set(body) == {"error", "message"} and body["message"]
    if error is not None:
        assert body["error"] == error
    return body


def test_valid_assertion_is_accepted(client: TestClient, make_assertion: AssertionMaker) -> None:
    response = client.get(_path(), headers={"Authorization": f"Bearer {make_assertion(AGENCY)}"})
    assert response.status_code == 200, response.text
    assert response.json()["name"] == "山田 花子"


def test_missing_assertion(client: TestClient) -> None:
    _refused(client, {}, "missing_assertion")


@pytest.mark.parametrize(
    "value", ["Bearer garbage", "Bearer a.b.c", "Basic bXluYTpwb3J0YWw=", "Bearer ", "eyJhbGciOiJFUzI1NiJ9"]
)
def test_garbage_assertion(client: TestClient, value: str) -> None:
    _refused(client, {"Authorization": value})


def test_expired_assertion(client: TestClient, make_assertion: AssertionMaker) -> None:
    now = int(time.time())
    token = make_assertion(AGENCY, iat=now - 600, exp=now - 400)
    _refused(client, {"Authorization": f"Bearer {token}"}, "expired_assertion")


def test_small_clock_skew_is_tolerated(client: TestClient, make_assertion: AssertionMaker) -> None:
    now = int(time.time())
    token = make_assertion(AGENCY, iat=now + 10, exp=now + 100)  # portal clock 10 s ahead
    assert client.get(_path(), headers={"Authorization": f"Bearer {token}"}).status_code == 200


def test_lifetime_over_300_seconds_is_refused(client: TestClient, make_assertion: AssertionMaker) -> None:
    now = int(time.time())
    token = make_assertion(AGENCY, iat=now, exp=now + 301)
    _refused(client, {"Authorization": f"Bearer {token}"}, "invalid_assertion")


@pytest.mark.parametrize("claim", ["exp", "iat", "jti", "iss", "sub", "aud"])
def test_missing_claim_is_refused(client: TestClient, make_assertion: AssertionMaker, claim: str) -> None:
    _refused(
        client, {"Authorization": f"Bearer {make_assertion(AGENCY, **{claim: None})}"}, "invalid_assertion"
    )


@pytest.mark.parametrize(
    "aud",
    [
        "http://127.0.0.1:8001/agencies/health-insurer",  # another agency's audience
        "http://127.0.0.1:8001",
        "http://127.0.0.1:9999/agencies/pension-service",
    ],
)
def test_wrong_audience(client: TestClient, make_assertion: AssertionMaker, aud: str) -> None:
    body = _refused(
        client, {"Authorization": f"Bearer {make_assertion(AGENCY, aud=aud)}"}, "invalid_assertion"
    )
    assert "http://127.0.0.1:8001/agencies/pension-service" in body["message"]


@pytest.mark.parametrize("claim,value", [("iss", "evil-portal"), ("sub", "someone-else")])
def test_wrong_issuer_or_subject(
    client: TestClient, make_assertion: AssertionMaker, claim: str, value: str
) -> None:
    _refused(
        client, {"Authorization": f"Bearer {make_assertion(AGENCY, **{claim: value})}"}, "invalid_assertion"
    )


def test_wrong_key_with_known_kid(client: TestClient, make_assertion: AssertionMaker) -> None:
    impostor = ECKey.generate_key("P-256", parameters={"kid": KID})
    _refused(client, {"Authorization": f"Bearer {make_assertion(AGENCY, key=impostor)}"}, "invalid_signature")


def test_unknown_kid(client: TestClient, make_assertion: AssertionMaker) -> None:
    stranger = ECKey.generate_key("P-256", parameters={"kid": "not-registered"})
    _refused(client, {"Authorization": f"Bearer {make_assertion(AGENCY, key=stranger)}"}, "unknown_key")


def test_unsigned_or_other_algorithm_is_refused(client: TestClient, make_assertion: AssertionMaker) -> None:
    header, payload, _ = make_assertion(AGENCY).split(".")
    none_header = (
        base64.urlsafe_b64encode(json.dumps({"alg": "none", "kid": KID}).encode()).rstrip(b"=").decode()
    )
    _refused(client, {"Authorization": f"Bearer {none_header}.{payload}."}, "invalid_assertion")
    # The original header with the signature stripped must not pass either.
    _refused(client, {"Authorization": f"Bearer {header}.{payload}."})


def test_tampered_payload_is_refused(client: TestClient, make_assertion: AssertionMaker) -> None:
    header, _, signature = make_assertion(AGENCY).split(".")
    other_payload = make_assertion(AGENCY, sub="myna-portal").split(".")[1]
    _refused(client, {"Authorization": f"Bearer {header}.{other_payload}.{signature}"}, "invalid_signature")


def test_replayed_jti_is_refused(client: TestClient, make_assertion: AssertionMaker) -> None:
    token = make_assertion(AGENCY)
    assert client.get(_path(), headers={"Authorization": f"Bearer {token}"}).status_code == 200
    _refused(client, {"Authorization": f"Bearer {token}"}, "replayed_assertion")
    # A different token reusing the jti is a replay too.
    again = make_assertion(
        AGENCY, jti=json.loads(base64.urlsafe_b64decode(token.split(".")[1] + "==="))["jti"]
    )
    _refused(client, {"Authorization": f"Bearer {again}"}, "replayed_assertion")


def test_replay_is_refused_across_app_instances(
    initialised: Settings, client: TestClient, make_assertion: AssertionMaker
) -> None:
    from simulators.agency.app import create_app

    token = make_assertion(AGENCY)
    assert client.get(_path(), headers={"Authorization": f"Bearer {token}"}).status_code == 200
    with TestClient(create_app(initialised)) as other_worker:
        response = other_worker.get(_path(), headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 401 and response.json()["error"] == "replayed_assertion"


def test_jwks_file_is_reloaded_when_it_changes(
    client: TestClient, settings: Settings, auth: Callable[[str], dict[str, str]], client_key: ECKey
) -> None:
    rotated = ECKey.generate_key("P-256", parameters={"kid": "portal-test-key-2"})
    now = int(time.time())
    claims = {
        "iss": "myna-portal",
        "sub": "myna-portal",
        "aud": settings.audience_for(AGENCY),
        "iat": now,
        "exp": now + 60,
    }
    _refused(client, {"Authorization": f"Bearer {sign(rotated, {**claims, 'jti': 'r1'})}"}, "unknown_key")
    write_jwks(settings.client_jwks_file, rotated)
    ok = client.get(_path(), headers={"Authorization": f"Bearer {sign(rotated, {**claims, 'jti': 'r2'})}"})
    assert ok.status_code == 200, ok.text
    # The old key left the file, so it no longer opens anything.
    _refused(client, auth(AGENCY), "unknown_key")


def test_missing_jwks_file_refuses_everything(
    client: TestClient, settings: Settings, auth: Callable[[str], dict[str, str]]
) -> None:
    settings.client_jwks_file.unlink()
    _refused(client, auth(AGENCY), "unknown_key")
