"""``medical_drugs`` (薬剤情報): medicines dispensed to the resident, from the insurers' claims.

Served by ``medical-insurance`` (the insurers' shared data service). Three years of dispensings, one entry
per prescription filled: the day, the pharmacy (調剤薬局), the prescribing clinic and department, and each
medicine with its amount, unit, directions (用法), days or times and route. Chronic prescriptions recur every
four or eight weeks; the elderly take more medicines; a child's are syrups and granules for colds. The
story behind them is categories/clinical.py's, shared with ``medical_expenses`` and ``medical_checkups``.
"""

from __future__ import annotations

from datetime import date
from typing import Any, Literal

from pydantic import ConfigDict, Field

from .base import AgencyWorld, Resident, StrictModel
from .clinical import story_of

MONTH_PATTERN = r"^\d{4}-(0[1-9]|1[0-2])$"


class Medicine(StrictModel):
    name: str = Field(description="医薬品名", examples=["アムロジピン錠5mg「サワイ」"])
    amount: float = Field(
        gt=0, description="数量: a day's amount (内服), one dose (頓服) or the whole (外用)"
    )
    unit: str = Field(description="単位", examples=["錠", "g", "枚", "本"])
    usage: str = Field(description="用法", examples=["1日1回朝食後"])
    days: int = Field(ge=1, description="調剤数量: days (内服), times (頓服) or days of use (外用)")
    route: Literal["内服", "頓服", "外用"] = Field(description="剤型区分")


class Dispensing(StrictModel):
    dispensed_on: date = Field(description="調剤年月日")
    pharmacy: str | None = Field(description="調剤薬局 (null when dispensed by the clinic itself, 院内処方)")
    prescriber: str = Field(description="処方医療機関")
    department: str = Field(description="診療科", examples=["内科"])
    medicines: list[Medicine]


class MedicalDrugsData(StrictModel):
    model_config = ConfigDict(
        title="MedicalDrugsData",
        json_schema_extra={
            "examples": [
                {
                    "period_from": "2023-10",
                    "period_to": "2026-09",
                    "dispensings": [
                        {
                            "dispensed_on": "2026-09-14",
                            "pharmacy": "みどり薬局 中之島店",
                            "prescriber": "中之島内科クリニック",
                            "department": "内科",
                            "medicines": [
                                {
                                    "name": "アムロジピン錠5mg「サワイ」",
                                    "amount": 1,
                                    "unit": "錠",
                                    "usage": "1日1回朝食後",
                                    "days": 28,
                                    "route": "内服",
                                }
                            ],
                        }
                    ],
                }
            ]
        },
    )

    period_from: str = Field(pattern=MONTH_PATTERN, description="First month covered (YYYY-MM)")
    period_to: str = Field(pattern=MONTH_PATTERN, description="Last month covered (YYYY-MM)")
    dispensings: list[Dispensing] = Field(description="Newest first; empty when nothing was dispensed")


def generate(resident: Resident, world: AgencyWorld) -> dict[str, Any]:
    story = story_of(resident, world)
    dispensings = [
        Dispensing(
            dispensed_on=visit.day,
            pharmacy=visit.pharmacy,
            prescriber=visit.facility,
            department=visit.department,
            medicines=[
                Medicine(
                    name=drug.name,
                    amount=drug.amount,
                    unit=drug.unit,
                    usage=drug.usage,
                    days=days,
                    route=drug.route,
                )
                for drug, days in visit.prescription
            ],
        )
        for visit in reversed(story.visits)
        if visit.prescription
    ]
    data = MedicalDrugsData(
        period_from=f"{story.window_start:%Y-%m}",
        period_to=f"{story.window_end:%Y-%m}",
        dispensings=dispensings,
    )
    return data.model_dump(mode="json")
