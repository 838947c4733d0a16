"""The payload contracts in contracts/self-information/: in step with the models, and met by every payload."""

from __future__ import annotations

import json
import shutil
import sqlite3
from dataclasses import replace
from pathlib import Path

import pytest
from jsonschema import Draft202012Validator

from simulators.agency import schemas
from simulators.agency.__main__ import main
from simulators.agency.categories import DATA_MODELS
from simulators.agency.config import REPO_ROOT, Settings
from simulators.agency.seed import initialise

from .conftest import PERSON_IDS, SERVED_BY, TODAY, SharedWorld

CONTRACTS = REPO_ROOT / "contracts" / "self-information"
#: The portal caches payloads encrypted; the simulator keeps each well under this.
MAX_PAYLOAD_BYTES = 256 * 1024


def _contract(category: str) -> Draft202012Validator:
    schema = json.loads((CONTRACTS / f"{category}.schema.json").read_text(encoding="utf-8"))
    return Draft202012Validator(schema, format_checker=Draft202012Validator.FORMAT_CHECKER)


def _payloads(db: Path) -> dict[tuple[str, str, str], str]:
    with sqlite3.connect(db) as conn:
        return {(a, c, cat): data for a, c, cat, data in conn.execute("SELECT * FROM self_information")}


def test_committed_contracts_match_the_models() -> None:
    stale = schemas.differences(CONTRACTS)
    assert stale == [], f"run `python -m simulators.agency schemas` (out of date: {stale})"
    assert sorted(p.name for p in CONTRACTS.glob("*.schema.json")) == sorted(
        f"{c}.schema.json" for c in DATA_MODELS
    )


@pytest.mark.parametrize("category", sorted(DATA_MODELS))
def test_contract_is_a_strict_2020_12_schema(category: str) -> None:
    schema = json.loads((CONTRACTS / f"{category}.schema.json").read_text(encoding="utf-8"))
    Draft202012Validator.check_schema(schema)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["type"] == "object" and schema["additionalProperties"] is False
    for definition in schema.get("$defs", {}).values():
        if definition.get("type") == "object":
            assert definition["additionalProperties"] is False  # one payload matches exactly one shape


@pytest.mark.parametrize("category", sorted(SERVED_BY))
@pytest.mark.parametrize("person_id", PERSON_IDS)
def test_every_demo_payload_meets_its_contract(shared: SharedWorld, category: str, person_id: str) -> None:
    body = shared.envelope(person_id, category)
    errors = sorted(_contract(category).iter_errors(body["data"]), key=lambda e: list(e.path))
    assert not errors, [f"{list(e.path)}: {e.message}" for e in errors[:5]]


def test_contract_refuses_what_it_does_not_describe(shared: SharedWorld) -> None:
    data = shared.envelope("tanaka-kazuo", "medical_checkups")["data"]
    validator = _contract("medical_checkups")
    assert validator.is_valid(data)
    assert not validator.is_valid({**data, "surprise": 1})
    broken = json.loads(json.dumps(data))
    broken["checkups"][0]["results"][0]["value"] = "tall"
    assert not validator.is_valid(broken)
    broken = json.loads(json.dumps(data))
    broken["checkups"][0]["examined_on"] = "last year"
    assert not validator.is_valid(broken)


def test_payloads_stay_small(shared: SharedWorld) -> None:
    sizes = {key: len(text.encode("utf-8")) for key, text in _payloads(shared.settings.db_path).items()}
    assert len(sizes) == 12 * len(PERSON_IDS)
    largest = max(sizes, key=lambda k: sizes[k])
    assert sizes[largest] < MAX_PAYLOAD_BYTES, largest


def test_answers_are_compact_json(shared: SharedWorld) -> None:
    response = shared.client.get(
        "/agencies/medical-insurance/v1/residents/"
        + shared.envelope("tanaka-kazuo", "medical_drugs")["agency_code"]
        + "/self-information/medical_drugs",
        headers=shared.headers("medical-insurance"),
    )
    assert response.headers["content-type"] == "application/json"
    assert len(response.content) < MAX_PAYLOAD_BYTES
    assert json.loads(response.content)["category"] == "medical_drugs"


def test_same_seed_same_payloads_other_seed_other_payloads(initialised: Settings, tmp_path: Path) -> None:
    twin = replace(initialised, data_dir=tmp_path / "twin")
    initialise(twin, today=TODAY)
    assert _payloads(twin.db_path) == _payloads(initialised.db_path)
    other = replace(initialised, data_dir=tmp_path / "other", seed=7)
    initialise(other, today=TODAY)
    mine, theirs = _payloads(initialised.db_path), _payloads(other.db_path)
    changed = {cat for key, cat in ((k, k[2]) for k in mine) if mine[key] != theirs[key]}
    # Every category but the resident register's household changes with the seed.
    assert changed >= set(DATA_MODELS) - {"household", "child_allowance"}
    # Seed 7 still meets the contracts.
    for (_, _, category), text in theirs.items():
        assert _contract(category).is_valid(json.loads(text)), category


def test_schemas_command_writes_and_checks(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    target = tmp_path / "contracts"
    assert main(["schemas", "--dir", str(target)]) == 0
    assert schemas.differences(target) == []
    assert main(["schemas", "--check", "--dir", str(target)]) == 0
    (target / "pension.schema.json").write_text("{}\n", encoding="utf-8")
    (target / "retired.schema.json").write_text("{}\n", encoding="utf-8")
    assert main(["schemas", "--check", "--dir", str(target)]) == 1
    assert "pension.schema.json" in capsys.readouterr().err
    assert main(["schemas", "--dir", str(target)]) == 0
    assert not (target / "retired.schema.json").exists()
    assert schemas.differences(target) == []


def test_committed_files_are_what_the_command_writes(tmp_path: Path) -> None:
    copy = tmp_path / "copy"
    shutil.copytree(CONTRACTS, copy)
    assert schemas.write(copy) == []  # nothing to rewrite
