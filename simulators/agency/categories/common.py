"""Shared pieces of category payloads: municipalities and short person references.

This module must never hold personal data itself; it only shapes what generators pass in.
"""

from __future__ import annotations

import re
from datetime import date

from pydantic import Field

from .base import StrictModel

# 全国地方公共団体コード (6 digits with check digit) of the demo residents' municipalities.
_MUNICIPALITIES: dict[str, tuple[str, str]] = {
    "131016": ("東京都", "千代田区"),
    "131032": ("東京都", "港区"),
    "131121": ("東京都", "世田谷区"),
    "141046": ("神奈川県", "横浜市中区"),
    "231061": ("愛知県", "名古屋市中区"),
    "271276": ("大阪府", "大阪市北区"),
    "401331": ("福岡県", "福岡市中央区"),
}

_PREFECTURE = re.compile(r"^(東京都|北海道|(?:京都|大阪)府|.{2,3}県)")


class Municipality(StrictModel):
    code: str = Field(description="全国地方公共団体コード (6 digits, with check digit)", examples=["141046"])
    prefecture: str = Field(examples=["神奈川県"])
    name: str = Field(description="City, ward, town or village", examples=["横浜市中区"])


class PersonRef(StrictModel):
    name: str = Field(examples=["佐藤 美咲"])
    name_kana: str = Field(examples=["サトウ ミサキ"])


class PersonWithBirthDate(PersonRef):
    birth_date: date = Field(examples=["2016-09-03"])


def municipality(code: str, address: str) -> Municipality:
    """The municipality for ``code``; unknown codes fall back to what the address says."""
    if code in _MUNICIPALITIES:
        prefecture, name = _MUNICIPALITIES[code]
        return Municipality(code=code, prefecture=prefecture, name=name)
    match = _PREFECTURE.match(address)
    prefecture = match.group(1) if match else ""
    rest = address[len(prefecture) :]
    city = re.match(r"^(.+?[市区町村])", rest)
    return Municipality(code=code, prefecture=prefecture, name=city.group(1) if city else "")


def town_of(address: str, place: Municipality) -> str:
    """The town part of an address (港町 in 神奈川県横浜市中区港町一丁目1番地), for naming local clinics."""
    rest = address.removeprefix(place.prefecture).removeprefix(place.name)
    match = re.match(r"^(.+?)(?:[一二三四五六七八九十]+丁目|[0-9０-９])", rest)
    return match.group(1) if match else (rest[:3] or place.name)


def city_of(place: Municipality) -> str:
    """The city that runs insurance for a ward: 横浜市 for 横浜市中区; Tokyo's special wards are their own."""
    match = re.match(r"^(.+?市)", place.name)
    return match.group(1) if match else place.name


def prefecture_short(prefecture: str) -> str:
    """神奈川県 -> 神奈川, 東京都 -> 東京; 北海道 stays."""
    return prefecture if prefecture == "北海道" else prefecture.rstrip("都府県")


def known_municipalities() -> list[str]:
    return sorted(_MUNICIPALITIES)
