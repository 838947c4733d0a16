"""``medical_expenses`` (医療費通知情報): what the resident's medical care cost, month by month.

Served by ``medical-insurance``. Three years of monthly claims, one line per month, provider and kind (入院,
外来, 歯科, 調剤): the days, the total cost (医療費の総額) and the co-payment it implies (自己負担相当額) at
the resident's share (負担割合) on the day, capped where the insurer caps it (a long-term dialysis patient's
10,000 yen a month, a hospital stay's high-cost limit). Built from the same visits as ``medical_drugs``, so
every dispensing is inside a pharmacy's month here.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any, Literal

from pydantic import ConfigDict, Field

from .base import AgencyWorld, Resident, StrictModel, month_start
from .clinical import Visit, story_of
from .health_insurance import copayment_percent
from .lives import life_of

MONTH_PATTERN = r"^\d{4}-(0[1-9]|1[0-2])$"
#: 特定疾病療養受療証 (人工透析): the monthly co-payment per provider.
DIALYSIS_CAP_YEN = 10_000

Kind = Literal["入院", "外来", "歯科", "調剤"]


class ExpenseRecord(StrictModel):
    service_month: str = Field(pattern=MONTH_PATTERN, description="診療年月 (YYYY-MM)")
    provider: str = Field(description="医療機関等の名称")
    kind: Kind = Field(description="入院, 外来, 歯科 or 調剤")
    days: int = Field(ge=1, description="日数 (visit days, days in hospital or dispensings)")
    total_yen: int = Field(ge=0, description="医療費の総額 (10割)")
    copayment_yen: int = Field(ge=0, description="自己負担相当額 (窓口相当負担額)")


class MedicalExpensesData(StrictModel):
    model_config = ConfigDict(
        title="MedicalExpensesData",
        json_schema_extra={
            "examples": [
                {
                    "period_from": "2023-10",
                    "period_to": "2026-09",
                    "records": [
                        {
                            "service_month": "2026-09",
                            "provider": "中之島内科クリニック",
                            "kind": "外来",
                            "days": 1,
                            "total_yen": 4_120,
                            "copayment_yen": 410,
                        }
                    ],
                }
            ]
        },
    )

    period_from: str = Field(pattern=MONTH_PATTERN, description="First month covered (YYYY-MM)")
    period_to: str = Field(pattern=MONTH_PATTERN, description="Last month covered (YYYY-MM)")
    records: list[ExpenseRecord] = Field(description="Newest month first; empty when there was no care")


def _high_cost_limit(total: int, percent: int, elderly: bool) -> int:
    """高額療養費's monthly limit for a hospital stay (一般 / 区分ウ)."""
    if elderly:
        return 57_600
    return int(80_100 + max(0, total - 267_000) * 0.01)


def generate(resident: Resident, world: AgencyWorld) -> dict[str, Any]:
    life = life_of(resident, world)
    story = story_of(resident, world)
    # (month, provider, kind) -> [visit days, total, the share's day]
    lines: dict[tuple[date, str, Kind], list[Any]] = {}

    def add(day: date, provider: str, kind: Kind, days: int, total: int) -> None:
        line = lines.setdefault((month_start(day), provider, kind), [set(), 0, day])
        line[0].update({day} if kind != "入院" else {day + timedelta(days=n) for n in range(days)})
        line[1] += total

    visit: Visit
    for visit in story.visits:
        if visit.kind == "入院":
            # A stay crossing a month end is claimed for each month separately.
            per_day = visit.fee_yen // visit.days
            for n in range(visit.days):
                day = visit.day + timedelta(days=n)
                if day <= story.window_end:
                    add(day, visit.facility, "入院", 1, per_day)
        else:
            add(visit.day, visit.facility, visit.kind, 1, visit.fee_yen)
        if visit.prescription and visit.pharmacy:
            add(visit.day, visit.pharmacy, "調剤", 1, visit.dispensing_fee_yen)

    shares: dict[date, int] = {}
    dialysis = {v.facility for v in story.visits if v.department == "腎臓内科"}
    records: list[ExpenseRecord] = []
    for (month, provider, kind), (days, total, day) in lines.items():
        if month not in shares:
            shares[month] = copayment_percent(life, resident, world, day)
        percent = shares[month]
        share = int(total * percent / 100 // 10 * 10)
        if provider in dialysis:
            share = min(share, DIALYSIS_CAP_YEN)
        if kind == "入院":
            share = min(share, _high_cost_limit(total, percent, life.age_on(day) >= 70))
        records.append(
            ExpenseRecord(
                service_month=f"{month:%Y-%m}",
                provider=provider,
                kind=kind,
                days=len(days),
                total_yen=total,
                copayment_yen=share,
            )
        )
    order = {"入院": 0, "外来": 1, "歯科": 2, "調剤": 3}
    records.sort(key=lambda r: (r.service_month, -order[r.kind], r.provider), reverse=True)
    data = MedicalExpensesData(
        period_from=f"{story.window_start:%Y-%m}",
        period_to=f"{story.window_end:%Y-%m}",
        records=records,
    )
    return data.model_dump(mode="json")
