"""``pension`` (年金): the Japan Pension Service's record of a resident (ねんきん定期便 and ねんきんネット).

Served by ``pension-service``. The enrolment history (加入履歴) by system — National Pension (国民年金, 第1号)
and the employees' pension (厚生年金保険, 第2号, with the employer) —, the contribution record month by month
(納付状況: paid, exempted, student deferral), the month totals, and either the expected yearly pension at 65
(年金見込額) or, for those who receive it, the benefits and the latest payments (年金振込通知書). Amounts use
the 令和7年度 rates and a simplified formula: they look right and claim nothing more. A child under 20 without
a job is not enrolled: empty lists and ``status`` 未加入.
"""

from __future__ import annotations

from datetime import date
from itertools import groupby
from typing import Any, Literal

from pydantic import ConfigDict, Field

from .base import (
    AgencyWorld,
    Resident,
    StrictModel,
    add_months,
    add_years,
    era_year,
    fiscal_year,
    month_start,
    weekday_on_or_before,
)
from .health_insurance import medical_premium
from .income_tax import assess
from .lives import ELDERLY_AGE, Life, PensionStatus, life_of, life_rng
from .long_term_care import care_premium

MONTH_PATTERN = r"^\d{4}-(0[1-9]|1[0-2])$"
#: Benefits are paid every even month, on the 15th, for the two months before.
PAYMENTS_SHOWN = 6


class EnrolmentPeriod(StrictModel):
    """One stretch of the 加入履歴."""

    system: Literal["国民年金", "厚生年金保険"] = Field(description="制度")
    category: Literal["第1号被保険者", "第2号被保険者"] = Field(description="被保険者の種別")
    employer: str | None = Field(description="事業所名 (厚生年金保険 only)")
    from_month: str = Field(pattern=MONTH_PATTERN, description="資格取得年月 (YYYY-MM)")
    to_month: str | None = Field(
        pattern=MONTH_PATTERN, description="Last month (YYYY-MM); null while it lasts"
    )
    months: int = Field(ge=1, description="月数")


class MonthRecord(StrictModel):
    month: str = Field(pattern=MONTH_PATTERN, examples=["2025-04"])
    status: PensionStatus = Field(
        description="厚生年金 (employees' pension), 納付済 (paid), 全額免除 / 半額免除 (exempted), "
        "学生納付特例 (student deferral), 合算対象期間 (counts towards eligibility only)"
    )


class ContributionYear(StrictModel):
    fiscal_year: int = Field(examples=[2025])
    fiscal_year_label: str = Field(examples=["令和7年度"])
    months: list[MonthRecord] = Field(description="The months of the year that the record covers, in order")


class Totals(StrictModel):
    """月数の合計 over the whole record."""

    employee_months: int = Field(ge=0, description="厚生年金保険の被保険者月数")
    paid_months: int = Field(ge=0, description="国民年金保険料の納付済月数")
    full_exemption_months: int = Field(ge=0, description="全額免除月数")
    half_exemption_months: int = Field(ge=0, description="半額免除月数")
    student_deferral_months: int = Field(ge=0, description="学生納付特例月数")
    counted_only_months: int = Field(ge=0, description="合算対象期間の月数")
    qualifying_months: int = Field(ge=0, description="受給資格期間 (all of the above; 120 are needed)")


class Estimate(StrictModel):
    """年金見込額 at 65, per year."""

    basis: Literal["これまでの加入実績に応じた年金額", "60歳まで現在の加入条件が続いた場合の見込額"]
    starts_on: date = Field(description="受給開始 (the month after the 65th birthday)")
    basic_yen: int = Field(ge=0, description="老齢基礎年金 (年額)")
    employees_yen: int = Field(ge=0, description="老齢厚生年金 (年額)")
    total_yen: int = Field(ge=0)
    rates: str = Field(description="The year whose rates were used", examples=["令和7年度"])


class Benefit(StrictModel):
    name: Literal["老齢基礎年金", "老齢厚生年金"]
    annual_yen: int = Field(ge=0, description="年金額 (年額)")
    started_on: date = Field(description="受給権発生 (first month paid)")


class Payment(StrictModel):
    """年金振込通知書: one bimonthly payment and what was withheld from it."""

    paid_on: date = Field(description="支払日 (15th of even months, earlier when it falls on a weekend)")
    gross_yen: int = Field(ge=0, description="年金支払額")
    care_premium_yen: int = Field(ge=0, description="介護保険料額")
    medical_premium_yen: int = Field(ge=0, description="後期高齢者医療保険料額 (or 国民健康保険税)")
    income_tax_yen: int = Field(ge=0, description="所得税額及び復興特別所得税額")
    resident_tax_yen: int = Field(ge=0, description="個人住民税額")
    net_yen: int = Field(ge=0, description="控除後振込額")


class PensionData(StrictModel):
    model_config = ConfigDict(
        title="PensionData",
        json_schema_extra={
            "examples": [
                {
                    "basic_pension_number": "4821-603917",
                    "status": "加入中",
                    "enrolment": [
                        {
                            "system": "国民年金",
                            "category": "第1号被保険者",
                            "employer": None,
                            "from_month": "2005-07",
                            "to_month": "2008-03",
                            "months": 33,
                        },
                        {
                            "system": "厚生年金保険",
                            "category": "第2号被保険者",
                            "employer": "株式会社こもれびスーパー",
                            "from_month": "2008-04",
                            "to_month": None,
                            "months": 223,
                        },
                    ],
                    "contributions": [
                        {
                            "fiscal_year": 2026,
                            "fiscal_year_label": "令和8年度",
                            "months": [{"month": "2026-04", "status": "厚生年金"}],
                        }
                    ],
                    "totals": {
                        "employee_months": 223,
                        "paid_months": 0,
                        "full_exemption_months": 0,
                        "half_exemption_months": 0,
                        "student_deferral_months": 33,
                        "counted_only_months": 0,
                        "qualifying_months": 256,
                    },
                    "estimate": {
                        "basis": "これまでの加入実績に応じた年金額",
                        "starts_on": "2050-08-01",
                        "basic_yen": 386_300,
                        "employees_yen": 293_300,
                        "total_yen": 679_600,
                        "rates": "令和7年度",
                    },
                    "benefits": [],
                    "payments": [],
                }
            ]
        },
    )

    basic_pension_number: str | None = Field(
        pattern=r"^\d{4}-\d{6}$", description="基礎年金番号 (fictional); null when not enrolled"
    )
    status: Literal["加入中", "受給中", "未加入"] = Field(description="enrolled / receiving / not enrolled")
    enrolment: list[EnrolmentPeriod] = Field(description="加入履歴, oldest first")
    contributions: list[ContributionYear] = Field(description="納付状況 by fiscal year, oldest first")
    totals: Totals
    estimate: Estimate | None = Field(description="年金見込額 (those not yet receiving)")
    benefits: list[Benefit] = Field(description="受給中の年金 (empty unless receiving)")
    payments: list[Payment] = Field(description="The latest payments, newest first (empty unless receiving)")


def _month(day: date) -> str:
    return f"{day.year:04d}-{day.month:02d}"


def _enrolment(life: Life, record: list[tuple[date, PensionStatus]], today: date) -> list[EnrolmentPeriod]:
    def key(item: tuple[date, PensionStatus]) -> tuple[str, str, str | None]:
        month, status = item
        if status == "厚生年金":
            job = life.job_in_month(month)
            return "厚生年金保険", "第2号被保険者", job.employer.name if job else None
        if status == "合算対象期間":
            return "", "", None  # not enrolled: students before 1991 only count towards eligibility
        return "国民年金", "第1号被保険者", None

    periods: list[EnrolmentPeriod] = []
    current = month_start(today)
    # Runs of consecutive months with the same system and employer.
    runs: list[list[tuple[date, PensionStatus]]] = []
    for item in record:
        if runs and key(runs[-1][-1]) == key(item) and add_months(runs[-1][-1][0], 1) == item[0]:
            runs[-1].append(item)
        else:
            runs.append([item])
    for run in runs:
        system, category, employer = key(run[0])
        if not system:
            continue
        last = run[-1][0]
        ongoing = add_months(last, 1) == current and life.pension_status(current) == run[-1][1]
        periods.append(
            EnrolmentPeriod(
                system=system,  # type: ignore[arg-type]
                category=category,  # type: ignore[arg-type]
                employer=employer,
                from_month=_month(run[0][0]),
                to_month=None if ongoing else _month(last),
                months=len(run),
            )
        )
    return periods


def _payment_days(today: date) -> list[date]:
    days: list[date] = []
    month = month_start(today)
    while len(days) < PAYMENTS_SHOWN:
        if month.month % 2 == 0:
            paid = weekday_on_or_before(month.replace(day=15))
            if paid < today:
                days.append(paid)
        month = add_months(month, -1)
    return days


def generate(resident: Resident, world: AgencyWorld) -> dict[str, Any]:
    life = life_of(resident, world)
    today = world.today
    record = life.pension_months(today)
    counts = {
        status: 0 for status in ("厚生年金", "納付済", "全額免除", "半額免除", "学生納付特例", "合算対象期間")
    }
    for _, status in record:
        counts[status] += 1
    totals = Totals(
        employee_months=counts["厚生年金"],
        paid_months=counts["納付済"],
        full_exemption_months=counts["全額免除"],
        half_exemption_months=counts["半額免除"],
        student_deferral_months=counts["学生納付特例"],
        counted_only_months=counts["合算対象期間"],
        qualifying_months=sum(counts.values()),
    )
    contributions = [
        ContributionYear(
            fiscal_year=year,
            fiscal_year_label=f"{era_year(year)}年度",
            months=[MonthRecord(month=_month(m), status=s) for m, s in items],
        )
        for year, items in groupby(record, key=lambda item: fiscal_year(item[0]))
    ]
    if not record:
        data = PensionData(
            basic_pension_number=None,
            status="未加入",
            enrolment=[],
            contributions=[],
            totals=totals,
            estimate=None,
            benefits=[],
            payments=[],
        )
        return data.model_dump(mode="json")

    number = life_rng(world.seed, life.key, "basic-pension-number")
    starts_on = add_months(month_start(add_years(life.birth_date, ELDERLY_AGE)), 1)
    estimate = None
    benefits: list[Benefit] = []
    payments: list[Payment] = []
    if life.receives_pension_on(today):
        basic, employees = life.pension_amounts(add_years(life.birth_date, 60))
        employees_from = starts_on
        if life.sex == "1" and life.birth_date < date(1961, 4, 2):
            # 特別支給の老齢厚生年金: men born before April 1961 drew the earnings-related part from 60.
            employees_from = add_months(month_start(add_years(life.birth_date, 60)), 1)
        benefits = [
            Benefit(name="老齢基礎年金", annual_yen=basic, started_on=starts_on),
            Benefit(name="老齢厚生年金", annual_yen=employees, started_on=employees_from),
        ]
        for paid_on in _payment_days(today):
            fy = fiscal_year(paid_on)
            gross = (basic + employees) // 6
            assessment = assess(life, resident, world, fy if paid_on.month >= 6 else fy - 1)
            care = care_premium(life, resident, world, fy)[1] // 6
            medical = medical_premium(life, resident, world, fy) // 6
            taxable = max(0, (basic + employees) - care * 6 - medical * 6 - 1_580_000)
            income_tax = int(taxable * 0.05105) // 6
            resident_tax = assessment.annual // 6 // 100 * 100
            payments.append(
                Payment(
                    paid_on=paid_on,
                    gross_yen=gross,
                    care_premium_yen=care,
                    medical_premium_yen=medical,
                    income_tax_yen=income_tax,
                    resident_tax_yen=resident_tax,
                    net_yen=max(0, gross - care - medical - income_tax - resident_tax),
                )
            )
    elif life.age_on(today) < ELDERLY_AGE:
        near = life.age_on(today) >= 50
        basic, employees = life.pension_amounts(today, to_sixty=near)
        estimate = Estimate(
            basis="60歳まで現在の加入条件が続いた場合の見込額"
            if near
            else "これまでの加入実績に応じた年金額",
            starts_on=starts_on,
            basic_yen=basic,
            employees_yen=employees,
            total_yen=basic + employees,
            rates="令和7年度",
        )
    data = PensionData(
        basic_pension_number=f"{number.randrange(1000, 10_000)}-{number.randrange(100_000, 1_000_000)}",
        status="受給中" if benefits else "加入中",
        enrolment=_enrolment(life, record, today),
        contributions=contributions,
        totals=totals,
        estimate=estimate,
        benefits=benefits,
        payments=payments,
    )
    return data.model_dump(mode="json")
