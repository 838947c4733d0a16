"""JSON Schemas of the self-information payloads: the shared contract files in contracts/self-information/.

Each category's ``data`` object is described by one file, ``<category>.schema.json`` (JSON Schema 2020-12),
generated from the category's pydantic model so that the two cannot say different things. The portal
validates payloads against the files without importing the simulator. ``python -m simulators.agency
schemas`` rewrites them; ``--check`` only compares. This module must never write outside the directory it
is given.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from .categories import DATA_MODELS
from .config import REPO_ROOT

CONTRACTS_DIR = REPO_ROOT / "contracts" / "self-information"
DIALECT = "https://json-schema.org/draft/2020-12/schema"


def category_schema(category: str) -> dict[str, Any]:
    """The JSON Schema of one category's ``data``, as published."""
    model = DATA_MODELS[category]
    # Serialization mode: the schema of what the agencies send (model_dump(mode="json")), not of what
    # pydantic would accept.
    body = model.model_json_schema(mode="serialization")
    return {
        "$schema": DIALECT,
        "$comment": (
            f"Self-information category '{category}': the 'data' object of the agency simulator's answer. "
            "Generated from simulators/agency/categories by 'python -m simulators.agency schemas'; "
            "do not edit by hand."
        ),
        **body,
    }


def render(schema: dict[str, Any]) -> str:
    return json.dumps(schema, ensure_ascii=False, indent=2) + "\n"


def expected_files() -> dict[str, str]:
    """File name -> content for every category."""
    return {f"{category}.schema.json": render(category_schema(category)) for category in sorted(DATA_MODELS)}


def write(directory: Path = CONTRACTS_DIR) -> list[Path]:
    """Write every category's schema (and remove stale ones); returns the files that changed."""
    directory.mkdir(parents=True, exist_ok=True)
    changed: list[Path] = []
    expected = expected_files()
    for name, content in expected.items():
        path = directory / name
        if not path.exists() or path.read_text(encoding="utf-8") != content:
            path.write_text(content, encoding="utf-8")
            changed.append(path)
    for stale in directory.glob("*.schema.json"):
        if stale.name not in expected:
            stale.unlink()
            changed.append(stale)
    return changed


def differences(directory: Path = CONTRACTS_DIR) -> list[str]:
    """File names that are missing, stale or differ from the models (empty when all match)."""
    expected = expected_files()
    out = [
        name
        for name, content in expected.items()
        if not (directory / name).exists() or (directory / name).read_text(encoding="utf-8") != content
    ]
    out += sorted(p.name for p in directory.glob("*.schema.json") if p.name not in expected)
    return out
