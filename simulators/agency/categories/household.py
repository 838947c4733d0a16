"""``household`` (世帯): the resident register's view of a resident's household (住民票の世帯情報).

Served by ``municipal-resident``. Members come from the demo residents sharing a household id; move-in
dates are drawn from the simulator seed. Must never include anything a 住民票 would not (no My Number).
"""

from __future__ import annotations

from datetime import date
from typing import Any, Literal

from pydantic import ConfigDict, Field

from .base import AgencyWorld, Resident, StrictModel, add_years, random_date
from .common import Municipality, PersonRef, municipality

#: Recorded move-ins lie before this day, so the data does not change with the date it is generated on.
_LATEST_MOVE_IN = date(2025, 3, 31)
_EARLIEST_MOVE_IN = date(1995, 4, 1)

# 続柄 as a 住民票 writes them; spouse and parent depend on sex.
_RELATIONSHIPS: dict[str, str] = {"head": "世帯主", "child": "子", "grandchild": "孫", "sibling": "兄弟姉妹"}
_BY_SEX: dict[str, dict[str, str]] = {
    "spouse": {"1": "夫", "2": "妻"},
    "parent": {"1": "父", "2": "母"},
}
_ORDER = {"head": 0, "spouse": 1, "child": 2, "parent": 3}


def relationship_ja(relation: str, sex: str) -> str:
    if relation in _BY_SEX:
        return _BY_SEX[relation].get(sex, "配偶者" if relation == "spouse" else "親")
    return _RELATIONSHIPS.get(relation, "同居人")


class HouseholdMember(StrictModel):
    name: str = Field(examples=["佐藤 陽翔"])
    name_kana: str = Field(examples=["サトウ ハルト"])
    birth_date: date = Field(examples=["2016-09-03"])
    sex: Literal["1", "2", "9"] = Field(description="1 male, 2 female, 9 other")
    relationship: str = Field(description="続柄 to the head of household", examples=["子"])
    moved_in_on: date = Field(description="住民となった年月日", examples=["2019-04-01"])
    moved_in_reason: Literal["転入", "出生"] = Field(description="転入 (moved in) or 出生 (born here)")


class HouseholdData(StrictModel):
    model_config = ConfigDict(
        title="HouseholdData",
        json_schema_extra={
            "examples": [
                {
                    "household_id": "H-200",
                    "head": {"name": "佐藤 美咲", "name_kana": "サトウ ミサキ"},
                    "address": "神奈川県横浜市中区港町一丁目1番地",
                    "municipality": {"code": "141046", "prefecture": "神奈川県", "name": "横浜市中区"},
                    "member_count": 2,
                    "members": [
                        {
                            "name": "佐藤 美咲",
                            "name_kana": "サトウ ミサキ",
                            "birth_date": "1990-04-12",
                            "sex": "2",
                            "relationship": "世帯主",
                            "moved_in_on": "2019-04-01",
                            "moved_in_reason": "転入",
                        }
                    ],
                }
            ]
        },
    )

    household_id: str = Field(description="世帯番号", examples=["H-200"])
    head: PersonRef = Field(description="世帯主")
    address: str = Field(description="住所", examples=["神奈川県横浜市中区港町一丁目1番地"])
    municipality: Municipality
    member_count: int = Field(ge=1)
    members: list[HouseholdMember] = Field(description="世帯員, head first")


def generate(resident: Resident, world: AgencyWorld) -> dict[str, Any]:
    members = sorted(
        world.household(resident.household_id),
        key=lambda r: (_ORDER.get(r.relation, 9), r.birth_date),
    )
    head = next((m for m in members if m.relation == "head"), members[0])
    # The household moved in together, once the head was an adult; later children were born into it.
    rng = world.rng("household", resident.household_id, "moved_in")
    moved_in = random_date(rng, max(add_years(head.birth_date, 18), _EARLIEST_MOVE_IN), _LATEST_MOVE_IN)
    data = HouseholdData(
        household_id=resident.household_id,
        head=PersonRef(name=head.name, name_kana=head.name_kana),
        address=head.address,
        municipality=municipality(head.municipality, head.address),
        member_count=len(members),
        members=[
            HouseholdMember(
                name=m.name,
                name_kana=m.name_kana,
                birth_date=m.birth_date,
                sex=m.sex,  # type: ignore[arg-type]  # validated by the model
                relationship=relationship_ja(m.relation, m.sex),
                moved_in_on=max(moved_in, m.birth_date),
                moved_in_reason="出生" if m.birth_date > moved_in else "転入",
            )
            for m in members
        ],
    )
    return data.model_dump(mode="json")
