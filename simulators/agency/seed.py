"""Builds every agency's records from demo/people.json and demo/agencies.json (``init``).

Each agency that serves categories gets its own copy of the residents, keyed by the code derived from its
own secret (one that serves none, the banks' account-name check, knows nobody by code); the mis-linked
resident's record carries the other person's identity at the named agency only. Payloads and the
information provision network's records are generated here, deterministically from the seed; the banks'
accounts are the people's ``bank_account``s. The My Number is used to derive codes and then dropped: this
module must never pass it to the store or to a generator.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from .bank import seed_accounts
from .categories import DATA_MODELS, GENERATORS, AgencyWorld, Resident
from .codes import agency_code
from .config import Settings
from .provision import PROVISION_CATEGORY
from .provision import generate as generate_provision_records
from .store import AgencyRow, ResidentRow, Store

JST = timezone(timedelta(hours=9), "JST")


@dataclass(frozen=True)
class InitSummary:
    db_path: Path
    agencies: int
    residents: int
    payloads: int
    provision_records: int = 0
    bank_accounts: int = 0


def load_people(settings: Settings) -> list[dict[str, Any]]:
    return _load(settings.people_file, "people")


def _load(path: Path, key: str) -> list[dict[str, Any]]:
    with path.open(encoding="utf-8") as handle:
        items = json.load(handle)[key]
    if not isinstance(items, list):
        raise ValueError(f"{path}: '{key}' must be a list")
    return items


def _as_seen_by(person: dict[str, Any], agency_id: str) -> Resident:
    identity = {k: person[k] for k in ("name", "name_kana", "birth_date")}
    mislink = person.get("mislink")
    mislinked = bool(mislink and mislink.get("agency") == agency_id)
    if mislinked:
        # This agency linked the code to someone else's identity (the 2023 health-insurance cases): its
        # record, and every payload it serves for the code, is that other person's.
        identity.update({k: mislink[k] for k in ("name", "name_kana", "birth_date") if k in mislink})
    return Resident(
        demo_id=person["id"],
        name=identity["name"],
        name_kana=identity["name_kana"],
        birth_date=date.fromisoformat(identity["birth_date"]),
        sex=person["sex"],
        address=person["address"],
        municipality=person["municipality"],
        household_id=person["household"],
        relation=person["relation"],
        mislinked=mislinked,
    )


def initialise(settings: Settings, today: date | None = None) -> InitSummary:
    """Create the schema and (re)build all agency records. Running it again gives the same records."""
    today = today or datetime.now(JST).date()
    people = load_people(settings)
    agencies = _load(settings.agencies_file, "agencies")

    agency_rows: list[AgencyRow] = []
    resident_rows: list[ResidentRow] = []
    payloads: list[tuple[str, str, str, dict[str, Any]]] = []
    provision_records: list[tuple[str, str, dict[str, Any]]] = []
    for agency in agencies:
        agency_id = agency["id"]
        agency_rows.append(
            AgencyRow(agency_id, agency["name_ja"], agency["name_en"], tuple(agency["categories"]))
        )
        if not agency["categories"]:
            continue  # a service that holds no self-information has no resident records either
        codes = {p["id"]: agency_code(agency["code_secret"], p["my_number"]) for p in people}
        if len(set(codes.values())) != len(codes):
            raise ValueError(f"{agency_id}: two residents share an agency code")
        residents = tuple(_as_seen_by(p, agency_id) for p in people)
        world = AgencyWorld(agency_id=agency_id, residents=residents, seed=settings.seed, today=today)
        for resident in residents:
            code = codes[resident.demo_id]
            resident_rows.append(
                ResidentRow(
                    agency_id=agency_id,
                    agency_code=code,
                    name=resident.name,
                    name_kana=resident.name_kana,
                    birth_date=resident.birth_date.isoformat(),
                    sex=resident.sex,
                    address=resident.address,
                )
            )
            if PROVISION_CATEGORY in agency["categories"]:
                provision_records += [
                    (agency_id, code, r) for r in generate_provision_records(resident, world)
                ]
            for category in agency["categories"]:
                generator = GENERATORS.get(category)
                if generator is None:
                    continue  # not implemented yet: the API answers category_not_served
                data = generator(resident, world)
                DATA_MODELS[category].model_validate(data)  # a generator bug fails init, not a request
                payloads.append((agency_id, code, category, data))

    accounts = seed_accounts(people)
    store = Store(settings.db_path)
    store.create_schema()
    store.replace_records(
        agency_rows,
        resident_rows,
        payloads,
        meta={
            "seed": str(settings.seed),
            "generated_for": today.isoformat(),
            "initialised_at": datetime.now(UTC).isoformat(timespec="seconds"),
        },
        provision_records=provision_records,
        bank_accounts=accounts,
    )
    return InitSummary(
        settings.db_path,
        len(agency_rows),
        len(resident_rows),
        len(payloads),
        len(provision_records),
        len(accounts),
    )
