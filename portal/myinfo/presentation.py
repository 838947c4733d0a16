"""Agency data made readable: labels, yen with separators, Japanese dates (optionally with the era).

Payloads differ by category; a payload becomes a small tree of nodes (fields, tables, lists, text) that
one recursive template draws, so a new category needs labels, not a new page.
"""

import datetime as dt
import re
from dataclasses import dataclass, field
from typing import Any

from portal.myinfo.labels import LABELS

# (first day, name): the modern eras, newest first.
ERAS = (
    (dt.date(2019, 5, 1), "令和"),
    (dt.date(1989, 1, 8), "平成"),
    (dt.date(1926, 12, 25), "昭和"),
    (dt.date(1912, 7, 30), "大正"),
    (dt.date(1868, 10, 23), "明治"),
)
ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
ISO_MONTH = re.compile(r"^\d{4}-\d{2}$")
ISO_DATETIME = re.compile(r"^\d{4}-\d{2}-\d{2}T")
MONTHS_EN = ("January", "February", "March", "April", "May", "June", "July", "August", "September",
             "October", "November", "December")  # fmt: skip


def era_year(day: dt.date) -> str:
    for first_day, name in ERAS:
        if day >= first_day:
            year = day.year - first_day.year + 1
            return f"{name}{'元' if year == 1 else year}年"
    return f"{day.year}年"


def format_date(day: dt.date, language: str, *, era: bool = False) -> str:
    if language == "en":
        return f"{day.day} {MONTHS_EN[day.month - 1]} {day.year}"
    year = era_year(day) if era else f"{day.year}年"
    return f"{year}{day.month}月{day.day}日"


def format_month(year: int, month: int, language: str, *, era: bool = False) -> str:
    if language == "en":
        return f"{MONTHS_EN[month - 1]} {year}"
    first = dt.date(year, month, 1)
    return f"{era_year(first) if era else f'{year}年'}{month}月"


def format_yen(amount: int | float, language: str) -> str:
    return f"¥{amount:,.0f}" if language == "en" else f"{amount:,.0f}円"


# "name" is a person's name in some records and a thing's in others: it is named by the record holding it.
_PERSON_NAME, _THING_NAME = ("氏名", "name"), ("名称", "name")
NAME_WITHIN: dict[str, tuple[str, str]] = {
    **dict.fromkeys(("children", "recipient", "head", "members", "household_members"), _PERSON_NAME),
    **dict.fromkeys(("municipality", "insurer", "credits", "deductions", "levies", "benefits"), _THING_NAME),
    "medicines": ("薬剤名", "medicine"),
    "results": ("検査項目", "test"),
}


def label(key: str, language: str, *, within: str = "") -> str:
    """The key's name for a reader; ``within`` is the key of the record or list that holds it."""
    known = (NAME_WITHIN.get(within) if key == "name" else None) or LABELS.get(key)
    if known:
        return known[1] if language == "en" else known[0]
    return key.replace("_", " ")


SEX_CODES = {"1": ("男性", "male"), "2": ("女性", "female"), "9": ("その他", "other")}


def format_scalar(key: str, value: Any, language: str, *, era: bool = False) -> str:
    if value is None or value == "":
        return "—"
    if key == "sex" and str(value) in SEX_CODES:
        return SEX_CODES[str(value)][1 if language == "en" else 0]
    if isinstance(value, bool):
        return ("Yes" if value else "No") if language == "en" else ("はい" if value else "いいえ")
    if isinstance(value, (int, float)):
        if key.endswith("_yen") or key == "yen":
            return format_yen(value, language)
        return f"{value:,}" if isinstance(value, int) and abs(value) >= 10000 else str(value)
    if isinstance(value, str):
        if ISO_DATE.match(value):
            try:
                return format_date(dt.date.fromisoformat(value), language, era=era)
            except ValueError:
                return value
        if ISO_MONTH.match(value):
            year, month = (int(part) for part in value.split("-"))
            if 1 <= month <= 12:
                return format_month(year, month, language, era=era)
        if ISO_DATETIME.match(value):
            try:
                moment = dt.datetime.fromisoformat(value)
            except ValueError:
                return value
            return f"{format_date(moment.date(), language, era=era)} {moment:%H:%M}"
        translated = LABELS.get(value)
        if translated and key in ("status", "kind", "type", "relation", "sex"):
            return translated[1] if language == "en" else translated[0]
    return str(value)


@dataclass
class Node:
    kind: str  # "fields", "table", "list" or "text"
    text: str = ""
    fields: list[tuple[str, "Node"]] = field(default_factory=list)
    headers: list[str] = field(default_factory=list)
    rows: list[list[str]] = field(default_factory=list)
    items: list["Node"] = field(default_factory=list)


def _is_table(values: list[Any]) -> bool:
    return bool(values) and all(
        isinstance(v, dict) and not any(isinstance(x, (dict, list)) for x in v.values()) for v in values
    )


def build_node(value: Any, language: str, *, key: str = "", era: bool = False) -> Node:
    if isinstance(value, dict):
        return Node(
            kind="fields",
            fields=[
                (label(k, language, within=key), build_node(v, language, key=k, era=era))
                for k, v in value.items()
            ],
        )
    if isinstance(value, list):
        if _is_table(value):
            keys: list[str] = []
            for row in value:
                keys.extend(k for k in row if k not in keys)
            return Node(
                kind="table",
                headers=[label(k, language, within=key) for k in keys],
                rows=[[format_scalar(k, row.get(k), language, era=era) for k in keys] for row in value],
            )
        return Node(kind="list", items=[build_node(v, language, key=key, era=era) for v in value])
    return Node(kind="text", text=format_scalar(key, value, language, era=era))
