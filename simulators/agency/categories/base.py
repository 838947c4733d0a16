"""What a self-information generator sees: one agency's residents, as that agency records them.

Generators turn these into category payloads when the simulator is initialised. Nothing here may carry a
My Number: residents are linked in memory by their demo ids, which never reach the database or the wire.
"""

from __future__ import annotations

import calendar
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
    #: True at the one agency that linked this code to someone else's identity (see demo/people.json):
    #: the record there is that other person's, and generators must tell that person's story.
    mislinked: bool = False

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


def add_months(day: date, count: int) -> date:
    """The same day ``count`` months later (or earlier), kept within the target month."""
    index = day.year * 12 + day.month - 1 + count
    year, month = divmod(index, 12)
    return date(year, month + 1, min(day.day, days_in_month(year, month + 1)))


def days_in_month(year: int, month: int) -> int:
    return calendar.monthrange(year, month)[1]


def month_start(day: date) -> date:
    return day.replace(day=1)


def month_end(day: date) -> date:
    return day.replace(day=days_in_month(day.year, day.month))


def months(first: date, last: date) -> list[date]:
    """First days of every month from ``first``'s month to ``last``'s month, both included."""
    out: list[date] = []
    current = month_start(first)
    while current <= last:
        out.append(current)
        current = add_months(current, 1)
    return out


def fiscal_year(day: date) -> int:
    """年度: April to March, named by the year it starts in."""
    return day.year if day.month >= 4 else day.year - 1


def era_year(year: int) -> str:
    """A (fiscal) year in the Japanese era: 2026 -> "令和8", 2019 -> "令和元", 2010 -> "平成22"."""
    for era, first in (("令和", 2019), ("平成", 1989), ("昭和", 1926)):
        if year >= first:
            return f"{era}元" if year == first else f"{era}{year - first + 1}"
    return str(year)


def weekday_on_or_after(day: date) -> date:
    """Offices and clinics mostly work on weekdays: a Saturday or Sunday moves to the Monday after."""
    return day + timedelta(days=7 - day.weekday()) if day.weekday() >= 5 else day


def weekday_on_or_before(day: date) -> date:
    """Payments due on a weekend are made on the Friday before."""
    return day - timedelta(days=day.weekday() - 4) if day.weekday() >= 5 else day


def yen(amount: float, unit: int = 1) -> int:
    """Round down to ``unit`` yen, as tax and benefit amounts are."""
    return int(amount // unit * unit) if amount > 0 else 0
