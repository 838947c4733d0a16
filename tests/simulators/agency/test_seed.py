"""Agency codes, the records `init` builds, and what must never be stored."""

from __future__ import annotations

import base64
import hmac
import re
import sqlite3
from dataclasses import replace
from pathlib import Path

import pytest

from simulators.agency.codes import agency_code
from simulators.agency.config import Settings
from simulators.agency.seed import initialise

from .conftest import AGENCIES, CODE_AGENCIES, PEOPLE, TODAY, code_for


def _dump(db: Path) -> list[tuple]:
    with sqlite3.connect(db) as conn:
        rows = []
        for table in ("agencies", "residents", "self_information"):
            rows += [(table, *r) for r in conn.execute(f"SELECT * FROM {table} ORDER BY 1, 2")]  # noqa: S608
        return rows


def test_code_matches_the_contract_formula() -> None:
    secret, number = "demo-only-municipal-tax-4f1c9a", "301661318600"
    digest = hmac.digest(secret.encode(), number.encode(), "sha256")
    expected = base64.b32encode(digest).decode().replace("=", "")[:26].upper()
    assert agency_code(secret, number) == expected
    # Known answer, so a change to the formula cannot slip through on both sides.
    assert agency_code(secret, number) == "LGYBQLNVE6XK3PUNA2OWZT2DL4"
    assert re.fullmatch(r"[A-Z2-7]{26}", expected)


def test_codes_differ_per_agency_and_per_person() -> None:
    for p in PEOPLE:
        codes = {code_for(p["id"], a["id"]) for a in AGENCIES}
        assert len(codes) == len(AGENCIES)
    for a in AGENCIES:
        assert len({code_for(p["id"], a["id"]) for p in PEOPLE}) == len(PEOPLE)


def test_records_are_keyed_by_each_agencys_own_codes(initialised: Settings) -> None:
    with sqlite3.connect(initialised.db_path) as conn:
        stored = set(conn.execute("SELECT agency_id, agency_code FROM residents"))
    assert stored == {(a["id"], code_for(p["id"], a["id"])) for a in CODE_AGENCIES for p in PEOPLE}


def test_database_never_contains_a_my_number(initialised: Settings) -> None:
    files = [f for f in initialised.data_dir.iterdir() if f.is_file()]
    assert initialised.db_path in files
    blob = b"".join(f.read_bytes() for f in files)  # the WAL file too, if any
    assert "山田 花子".encode() in blob  # the grep does look at the stored records
    for p in PEOPLE:
        assert p["my_number"].encode() not in blob, p["id"]
        assert p["my_number"].encode("utf-16-le") not in blob, p["id"]


def test_init_is_idempotent(initialised: Settings) -> None:
    before = _dump(initialised.db_path)
    initialise(initialised, today=TODAY)
    assert _dump(initialised.db_path) == before


def test_same_seed_same_data_other_seed_other_data(initialised: Settings, tmp_path: Path) -> None:
    twin = replace(initialised, data_dir=tmp_path / "twin")
    initialise(twin, today=TODAY)
    assert _dump(twin.db_path) == _dump(initialised.db_path)
    other = replace(initialised, data_dir=tmp_path / "other", seed=7)
    initialise(other, today=TODAY)
    assert _dump(other.db_path) != _dump(initialised.db_path)


def test_init_keeps_fault_settings(initialised: Settings) -> None:
    from simulators.agency.store import FaultRow, Store

    store = Store(initialised.db_path)
    store.set_faults("pension-service", FaultRow(10, 0.5, True, 30))
    initialise(initialised, today=TODAY)
    assert store.faults("pension-service") == FaultRow(10, 0.5, True, 30)


def test_settings_from_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("AGENCY_SIM_DATA_DIR", str(tmp_path / "d"))
    monkeypatch.setenv("AGENCY_SIM_PUBLIC_URL", "http://sim.example:9000/")
    monkeypatch.setenv("AGENCY_SIM_SEED", "99")
    monkeypatch.setenv("AGENCY_SIM_LATENCY_MS", "250")
    monkeypatch.setenv("AGENCY_SIM_ERROR_RATE", "0.1")
    monkeypatch.setenv("AGENCY_SIM_CONTROL_TOKEN", "tok")
    monkeypatch.setenv("AGENCY_SIM_CLIENT_JWKS", str(tmp_path / "k.json"))
    s = Settings.from_env()
    assert s.db_path == tmp_path / "d" / "agency.sqlite3"
    assert s.audience_for("hello-work") == "http://sim.example:9000/agencies/hello-work"
    assert (s.seed, s.default_latency_ms, s.default_error_rate, s.control_token) == (99, 250, 0.1, "tok")
    assert s.client_jwks_file == tmp_path / "k.json"
    monkeypatch.setenv("AGENCY_SIM_ERROR_RATE", "2")
    with pytest.raises(ValueError, match="AGENCY_SIM_ERROR_RATE"):
        Settings.from_env()


def test_defaults_point_into_the_repository(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("AGENCY_SIM_DATA_DIR", "AGENCY_SIM_CLIENT_JWKS", "AGENCY_SIM_PUBLIC_URL", "DEMO_PEOPLE"):
        monkeypatch.delenv(name, raising=False)
    s = Settings.from_env()
    repo = Path(__file__).resolve().parents[3]
    assert s.data_dir == repo / "var" / "agency"
    assert s.client_jwks_file == repo / "var" / "keys" / "agency-client.jwks.json"
    assert s.people_file == repo / "demo" / "people.json"
    assert s.public_url == "http://127.0.0.1:8001"
