"""``health_insurance`` (医療保険資格): who insures the resident for medical care, now and before.

Served by ``health-insurer``, which stands in for every insurer (健康保険組合, 協会けんぽ, 国民健康保険, 後期
高齢者医療広域連合), as the online qualification check (オンライン資格確認) does. Each qualification has the
insurer's name and number, the card's 記号・番号・枝番 (fictional), 本人 or 家族, the dates and the co-payment
share (負担割合). A child is insured through the guardian. At the agency named by ``mislink`` in
demo/people.json the record is someone else's, and so is every figure in it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any, Literal

from pydantic import ConfigDict, Field

from .base import AgencyWorld, Resident, StrictModel, add_years, fiscal_year
from .common import PersonRef
from .income_tax import assess
from .lives import Insurer, InsurerKind, Life, guardian_of, life_of, life_rng

#: Past qualifications shown besides the current one.
HISTORY_SHOWN = 4


class Qualification(StrictModel):
    """One qualification (資格) with one insurer."""

    insurer_kind: InsurerKind = Field(description="保険者の種別")
    insurer_name: str = Field(description="保険者名", examples=["全国健康保険協会 神奈川支部"])
    insurer_number: str = Field(pattern=r"^(\d{6}|\d{8})$", description="保険者番号 (with its check digit)")
    symbol: str | None = Field(description="記号 (null for 後期高齢者医療)")
    number: str = Field(description="番号 (被保険者番号 for 後期高齢者医療)")
    branch: str = Field(pattern=r"^\d{2}$", description="枝番: 00 for the insured person, 01… for family")
    insured_type: Literal["本人", "家族"] = Field(description="本人 (被保険者) or 家族 (被扶養者)")
    policyholder: PersonRef | None = Field(description="The insured person a family member depends on")
    employer: str | None = Field(description="事業所名 (employees' insurance only)")
    acquired_on: date = Field(description="資格取得年月日")
    lost_on: date | None = Field(description="資格喪失年月日 (the day after it ended); null while it lasts")
    copayment_percent: Literal[10, 20, 30] = Field(description="一部負担金の割合 (負担割合), in percent")


class HealthInsuranceData(StrictModel):
    model_config = ConfigDict(
        title="HealthInsuranceData",
        json_schema_extra={
            "examples": [
                {
                    "current": {
                        "insurer_kind": "全国健康保険協会",
                        "insurer_name": "全国健康保険協会 神奈川支部",
                        "insurer_number": "01140014",
                        "symbol": "51208833",
                        "number": "4127",
                        "branch": "01",
                        "insured_type": "家族",
                        "policyholder": {"name": "佐藤 美咲", "name_kana": "サトウ ミサキ"},
                        "employer": None,
                        "acquired_on": "2017-04-01",
                        "lost_on": None,
                        "copayment_percent": 30,
                    },
                    "history": [],
                }
            ]
        },
    )

    current: Qualification | None = Field(description="The qualification in force today")
    history: list[Qualification] = Field(description="Earlier qualifications, newest first")


@dataclass(frozen=True)
class Span:
    insurer: Insurer
    employer: str | None
    start: date
    end: date | None  # last day; None while it lasts


def spans(life: Life, since: date, today: date) -> list[Span]:
    """The resident's insurers from ``since`` to today, one span per insurer (and employer)."""
    bounds = {since, add_years(life.birth_date, 75)}
    for job in life.jobs:
        bounds.add(job.started_on)
        if job.left_on is not None:
            bounds.add(job.left_on + timedelta(days=1))
    if life.moved_in_on is not None:
        bounds.add(life.moved_in_on)
    days = sorted(b for b in bounds if since <= b <= today)
    out: list[Span] = []
    for i, start in enumerate(days):
        insurer = life.insurer_on(start)
        job = life.job_on(start)
        employer = job.employer.name if job is not None and insurer.kind != "後期高齢者医療" else None
        end = days[i + 1] - timedelta(days=1) if i + 1 < len(days) else None
        if out and out[-1].insurer == insurer and out[-1].employer == employer:
            out[-1] = Span(insurer, employer, out[-1].start, end)
        else:
            out.append(Span(insurer, employer, start, end))
    return out


def card_numbers(seed: int, key: str, insurer: Insurer, employer: str | None) -> tuple[str | None, str]:
    """記号 and 番号 a life holds with an insurer through an employer (fictional, stable for the three)."""
    rng = life_rng(seed, key, "insurance", insurer.number, employer or "")
    if insurer.kind == "後期高齢者医療":
        return None, f"{rng.randrange(10_000_000, 100_000_000)}"
    if insurer.kind == "全国健康保険協会":
        return f"{rng.randrange(10_000_000, 100_000_000)}", f"{rng.randrange(1, 100_000)}"
    if insurer.kind == "国民健康保険":
        return f"{rng.randrange(100, 1000)}{rng.randrange(100, 1000)}", f"{rng.randrange(1, 100_000):05d}"
    return f"{rng.randrange(1000, 10_000)}", f"{rng.randrange(1, 10_000)}"


def copayment_percent(life: Life, resident: Resident, world: AgencyWorld, day: date) -> Literal[10, 20, 30]:
    """負担割合 on ``day``: 2割 before school, 3割 to 69, 2割 from 70, and 1割 to 3割 by income from 75."""
    age = life.age_on(day)
    birth = life.birth_date
    cohort = birth.year if (birth.month, birth.day) >= (4, 2) else birth.year - 1
    if day < date(cohort + 7, 4, 1):  # 義務教育就学前
        return 20
    if age < 70:
        return 30
    # From 75 the share follows the assessment of the year running from August.
    assessed = fiscal_year(day) if day.month >= 8 else fiscal_year(day) - 1
    a = assess(life, resident, world, max(assessed, 2000))
    if a.taxable >= 1_450_000:
        return 30
    if age >= 75 and a.taxable >= 280_000 and sum(i.revenue_yen for i in a.incomes) >= 2_000_000:
        return 20
    return 10 if age >= 75 else 20


def medical_premium(life: Life, resident: Resident, world: AgencyWorld, fy: int) -> int:
    """後期高齢者医療保険料 for the fiscal year (yearly, to the hundred yen); 0 below 75."""
    if life.age_on(date(fy, 4, 1)) < 75:
        return 0
    a = assess(life, resident, world, fy)
    base = max(0, a.total_income - 430_000)
    equal = 50_000
    if a.total_income <= 430_000:
        equal = equal * 3 // 10  # 7割軽減
    elif a.total_income <= 430_000 + 305_000:
        equal = equal // 2  # 5割軽減
    elif a.total_income <= 430_000 + 560_000:
        equal = equal * 8 // 10  # 2割軽減
    return (equal + int(base * 0.1)) // 100 * 100


def generate(resident: Resident, world: AgencyWorld) -> dict[str, Any]:
    life = life_of(resident, world)
    today = world.today
    guardian = guardian_of(resident, world) if not resident.mislinked else None
    qualifications: list[Qualification] = []
    if life.stage == "child" and guardian is not None:
        guardian_life = life_of(guardian, world)
        family_rank = sorted(
            c.birth_date for c in world.household(resident.household_id) if c.relation == "child"
        )
        branch = f"{family_rank.index(resident.birth_date) + 1:02d}"
        for span in spans(guardian_life, life.birth_date, today):
            symbol, number = card_numbers(world.seed, guardian_life.key, span.insurer, span.employer)
            family = span.insurer.kind in ("健康保険組合", "全国健康保険協会")
            qualifications.append(
                Qualification(
                    insurer_kind=span.insurer.kind,
                    insurer_name=span.insurer.name,
                    insurer_number=span.insurer.number,
                    symbol=symbol,
                    number=number,
                    branch=branch,
                    insured_type="家族" if family else "本人",
                    policyholder=PersonRef(name=guardian.name, name_kana=guardian.name_kana)
                    if family
                    else None,
                    employer=None,
                    acquired_on=span.start,
                    lost_on=span.end + timedelta(days=1) if span.end else None,
                    copayment_percent=copayment_percent(life, resident, world, span.end or today),
                )
            )
    elif life.career_start is not None:
        # Before the first job a student is insured as a parent's dependant, on records not kept here.
        since = min([life.career_start, *(j.started_on for j in life.jobs)])
        if life.self_employment is not None:
            since = min(since, life.self_employment.since)
        for span in spans(life, since, today):
            symbol, number = card_numbers(world.seed, life.key, span.insurer, span.employer)
            qualifications.append(
                Qualification(
                    insurer_kind=span.insurer.kind,
                    insurer_name=span.insurer.name,
                    insurer_number=span.insurer.number,
                    symbol=symbol,
                    number=number,
                    branch="00",
                    insured_type="本人",
                    policyholder=None,
                    employer=span.employer,
                    acquired_on=span.start,
                    lost_on=span.end + timedelta(days=1) if span.end else None,
                    copayment_percent=copayment_percent(life, resident, world, span.end or today),
                )
            )
    current = qualifications[-1] if qualifications and qualifications[-1].lost_on is None else None
    past = [q for q in qualifications if q is not current]
    data = HealthInsuranceData(current=current, history=list(reversed(past))[:HISTORY_SHOWN])
    return data.model_dump(mode="json")
