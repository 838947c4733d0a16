"""What a self-information generator sees: one agency's residents, as that agency records them.

Generators turn these into category payloads when the simulator is initialised. Nothing here may carry a
My Number: residents are linked in memory by their demo ids, which never reach the database or the wire.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from pydantic import BaseModel, ConfigDict


@dataclass(frozen=True)
class Resident:
    """One resident as a given agency knows them (a mis-linked record carries the wrong name here)."""

    demo_id: str  # only to relate residents while generating; never stored
    name: str
    name_kana: str
    birth_date: date
    sex: str
    address: str
    municipality: str
    household_id: str
    relation: str

    def age_on(self, day: date) -> int:
        before_birthday = (day.month, day.day) < (self.birth_date.month, self.birth_date.day)
        return day.year - self.birth_date.year - int(before_birthday)


@dataclass(frozen=True)
class AgencyWorld:
    """All residents of one agency plus what generators need to stay deterministic."""

    agency_id: str
    residents: tuple[Resident, ...]
    seed: int
    today: date

    def rng(self, *parts: str) -> random.Random:
        # A string seed is hashed (SHA-512) by random.Random, so the stream depends only on these parts.
        return random.Random("|".join((str(self.seed), self.agency_id, *parts)))

    def household(self, household_id: str) -> list[Resident]:
        return [r for r in self.residents if r.household_id == household_id]


class StrictModel(BaseModel):
    """Category payload models refuse unknown fields so that a payload matches exactly one model."""

    model_config = ConfigDict(extra="forbid")


#: A generator returns the category's ``data`` object (already JSON-ready) for one resident.
CategoryGenerator = Callable[[Resident, AgencyWorld], dict[str, Any]]


def random_date(rng: random.Random, start: date, end: date) -> date:
    """A uniformly chosen day in [start, end] (``start`` when the range is empty)."""
    span = (end - start).days
    return start if span <= 0 else start + timedelta(days=rng.randint(0, span))


def add_years(day: date, years: int) -> date:
    try:
        return day.replace(year=day.year + years)
    except ValueError:  # 29 February in a common year
        return day.replace(year=day.year + years, day=28)
