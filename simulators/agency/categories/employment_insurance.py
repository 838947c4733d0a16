"""``employment_insurance`` (雇用保険): Hello Work's record of a resident's insured employment and benefits.

Served by ``hello-work``. Every job as an employee is a period of insurance (被保険者期間) with its employer,
the day the qualification began and ended and the reason for leaving (離職理由). A resident who lost a job
against their will (特定受給資格者) drew the basic allowance (基本手当): the decision, the prescribed number
of days by age and years insured, the daily amount, the waiting period and every four-weekly certification (失
業認定) with the days and amount paid. Amounts are illustrative (the August 2025 limits in outline). Children,
and adults who were never employees, have an empty record.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any, Literal

from pydantic import ConfigDict, Field

from .base import AgencyWorld, Resident, StrictModel, weekday_on_or_after
from .common import city_of, municipality
from .lives import Job, Life, life_of, life_rng

#: 管轄公共職業安定所 of the demo's municipalities (others: the ward's or city's own name).
OFFICES: dict[str, str] = {
    "131016": "ハローワーク飯田橋",
    "131032": "ハローワーク品川",
    "131121": "ハローワーク渋谷",
    "141046": "ハローワーク横浜",
    "231061": "ハローワーク名古屋中",
    "271276": "ハローワーク梅田",
    "401331": "ハローワーク福岡中央",
}
#: 基本手当日額's upper limit for leavers aged 45 to 59 (from August 2025).
DAILY_AMOUNT_CEILING_YEN = 8_870
WAITING_DAYS = 7
CERTIFICATION_INTERVAL_DAYS = 28


class InsuredPeriod(StrictModel):
    employer: str = Field(description="事業所名")
    acquired_on: date = Field(description="資格取得年月日")
    lost_on: date | None = Field(description="資格喪失年月日 (the day after leaving); null while employed")
    reason_for_leaving: str | None = Field(description="離職理由")


class CertificationPayment(StrictModel):
    """失業認定: one certification day and what it paid."""

    certified_on: date = Field(description="認定日")
    period_from: date = Field(description="認定対象期間の初日")
    period_to: date = Field(description="認定対象期間の末日")
    days_paid: int = Field(ge=0, description="支給日数")
    amount_yen: int = Field(ge=0, description="支給額")


class BasicAllowance(StrictModel):
    kind: Literal["基本手当"]
    decided_on: date = Field(description="受給資格決定日")
    reason_class: Literal["特定受給資格者", "一般の受給資格者"] = Field(description="離職理由による区分")
    age_at_leaving: int = Field(ge=15)
    insured_years: int = Field(ge=0, description="算定基礎期間 (years)")
    prescribed_days: int = Field(ge=0, description="所定給付日数")
    daily_wage_yen: int = Field(ge=0, description="賃金日額")
    daily_amount_yen: int = Field(ge=0, description="基本手当日額")
    waiting_from: date = Field(description="待期期間 (7 days) from")
    waiting_to: date
    restriction_months: int = Field(ge=0, description="給付制限 (months; none for 特定受給資格者)")
    payments: list[CertificationPayment] = Field(description="Oldest first")
    days_paid: int = Field(ge=0)
    total_paid_yen: int = Field(ge=0)
    ended: Literal["所定給付日数の支給終了", "就職"] | None = Field(
        description="Why payments ended; null if they go on"
    )
    ended_on: date | None


class EmploymentInsuranceData(StrictModel):
    model_config = ConfigDict(
        title="EmploymentInsuranceData",
        json_schema_extra={
            "examples": [
                {
                    "insured_number": "5013-482913-7",
                    "office": "ハローワーク飯田橋",
                    "status": "被保険者",
                    "periods": [
                        {
                            "employer": "株式会社こもれびスーパー",
                            "acquired_on": "2008-04-01",
                            "lost_on": None,
                            "reason_for_leaving": None,
                        }
                    ],
                    "benefits": [],
                }
            ]
        },
    )

    insured_number: str | None = Field(pattern=r"^\d{4}-\d{6}-\d$", description="雇用保険被保険者番号")
    office: str | None = Field(description="管轄公共職業安定所")
    status: Literal["被保険者", "資格喪失", "加入歴なし"] = Field(
        description="insured now / insured before, not now / never insured"
    )
    periods: list[InsuredPeriod] = Field(description="被保険者期間, newest first")
    benefits: list[BasicAllowance] = Field(description="基本手当の受給歴, newest first")


def prescribed_days(age: int, years: int, involuntary: bool) -> int:
    """所定給付日数 by age at leaving and years insured (雇用保険法 第22条・第23条)."""
    if not involuntary:
        return 90 if years < 10 else 120 if years < 20 else 150
    if years < 1:
        return 90
    columns = (1, 5, 10, 20)  # lower bounds of the year bands
    table = {
        (0, 30): (90, 120, 180, 180),
        (30, 35): (120, 180, 210, 240),
        (35, 45): (150, 180, 240, 270),
        (45, 60): (180, 240, 270, 330),
        (60, 65): (150, 180, 210, 240),
    }
    band = next(i for i in range(len(columns) - 1, -1, -1) if years >= columns[i])
    row = next(days for (low, high), days in table.items() if low <= age < high)
    return row[band]


def daily_amount(wage: int) -> int:
    """基本手当日額: 80% of low daily wages sliding to 50% of high ones, capped."""
    if wage <= 5_200:
        rate = 0.8
    elif wage >= 12_790:
        rate = 0.5
    else:
        rate = 0.8 - 0.3 * (wage - 5_200) / (12_790 - 5_200)
    return min(int(wage * rate), DAILY_AMOUNT_CEILING_YEN)


def _allowance(life: Life, job: Job, today: date, office_seed: int) -> BasicAllowance | None:
    assert job.left_on is not None
    rng = life_rng(office_seed, life.key, "basic-allowance")
    decided = weekday_on_or_after(job.left_on + timedelta(days=rng.randint(10, 20)))
    if decided > today:
        return None
    age = life.age_on(job.left_on)
    years = (job.left_on - job.started_on).days // 365
    days_total = prescribed_days(age, years, job.involuntary)
    wage = int(job.yearly_rate(job.left_on.year) / 360)
    amount = daily_amount(wage)
    waiting_to = decided + timedelta(days=WAITING_DAYS - 1)
    payments: list[CertificationPayment] = []
    paid = 0
    period_from = waiting_to + timedelta(days=1)
    certified = decided + timedelta(days=CERTIFICATION_INTERVAL_DAYS)
    next_job = min((j.started_on for j in life.jobs if j.started_on > job.left_on), default=None)
    ended: Literal["所定給付日数の支給終了", "就職"] | None = None
    ended_on = None
    while paid < days_total and certified <= today:
        period_to = certified - timedelta(days=1)
        if next_job is not None and next_job <= period_to:
            period_to = next_job - timedelta(days=1)
            ended = "就職"
        days = min((period_to - period_from).days + 1, days_total - paid)
        payments.append(
            CertificationPayment(
                certified_on=certified,
                period_from=period_from,
                period_to=period_from + timedelta(days=days - 1),
                days_paid=days,
                amount_yen=days * amount,
            )
        )
        paid += days
        if ended:
            ended_on = period_to
            break
        period_from = certified
        certified += timedelta(days=CERTIFICATION_INTERVAL_DAYS)
    if paid >= days_total:
        ended, ended_on = "所定給付日数の支給終了", payments[-1].period_to
    return BasicAllowance(
        kind="基本手当",
        decided_on=decided,
        reason_class="特定受給資格者" if job.involuntary else "一般の受給資格者",
        age_at_leaving=age,
        insured_years=years,
        prescribed_days=days_total,
        daily_wage_yen=wage,
        daily_amount_yen=amount,
        waiting_from=decided,
        waiting_to=waiting_to,
        restriction_months=0 if job.involuntary else 1,
        payments=payments,
        days_paid=paid,
        total_paid_yen=sum(p.amount_yen for p in payments),
        ended=ended,
        ended_on=ended_on,
    )


def generate(resident: Resident, world: AgencyWorld) -> dict[str, Any]:
    life = life_of(resident, world)
    jobs = [j for j in life.jobs if j.started_on <= world.today]
    office = OFFICES.get(resident.municipality)
    if not jobs:
        data = EmploymentInsuranceData(
            insured_number=None, office=None, status="加入歴なし", periods=[], benefits=[]
        )
        return data.model_dump(mode="json")
    periods = [
        InsuredPeriod(
            employer=j.employer.name,
            acquired_on=j.started_on,
            lost_on=j.left_on + timedelta(days=1) if j.left_on and j.left_on < world.today else None,
            reason_for_leaving=j.leaving_reason if j.left_on and j.left_on < world.today else None,
        )
        for j in reversed(jobs)
    ]
    # Only those pushed out of work claim here; voluntary leavers in the demo moved straight on or set up
    # on their own, and 2002's retirees' claims are past the records kept.
    benefits = [
        b
        for j in reversed(jobs)
        if j.involuntary and j.left_on is not None
        for b in [_allowance(life, j, world.today, world.seed)]
        if b is not None
    ]
    number = life_rng(world.seed, life.key, "employment-insured-number")
    employed = life.job_on(world.today) is not None
    data = EmploymentInsuranceData(
        insured_number=(
            f"{number.randrange(1000, 10_000)}-{number.randrange(100_000, 1_000_000)}-{number.randrange(10)}"
        ),
        office=office or f"ハローワーク{city_of(municipality(resident.municipality, resident.address))}",
        status="被保険者" if employed else "資格喪失",
        periods=periods,
        benefits=benefits,
    )
    return data.model_dump(mode="json")
