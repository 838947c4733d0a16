"""``income_tax`` (所得・住民税): the municipal tax office's assessment of a resident, year by year.

Served by ``municipal-tax``. Each 年度 (fiscal year, from June when the assessment is made) is assessed on the
previous calendar year's income: the kinds of income (給与, 事業, 公的年金等) with revenue and income, the
deductions (所得控除), the taxable amount (課税標準額), the resident tax's 所得割 and 均等割 split between the
municipality and the prefecture, tax credits (調整控除, 令和6年度's 定額減税) and the year's tax. Rules follow
the Local Tax Act in outline (non-taxable limits of a 1級地, designated cities' 8%/2% split); the figures are
illustrative, not a tax calculator. A child with no income has no assessment: an empty list.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any, Literal

from pydantic import ConfigDict, Field

from .base import AgencyWorld, Resident, StrictModel, era_year, yen
from .common import Municipality, municipality
from .lives import Life, eligible_children, life_of

#: Years shown: the newest assessments, newest first.
YEARS_SHOWN = 5
#: Assessments for a fiscal year are made in June (the 納税通知書 goes out then).
ASSESSED_IN_MONTH = 6

BASIC_DEDUCTION_YEN = 430_000  # 基礎控除 (住民税)
SINGLE_PARENT_DEDUCTION_YEN = 300_000  # ひとり親控除 (住民税)
SPECIAL_DISABILITY_DEDUCTION_YEN = 300_000  # 特別障害者控除 (住民税)
PENSION_DEDUCTION_65_YEN = 1_100_000  # 公的年金等控除額 (65歳以上, 収入330万円以下)
BLUE_RETURN_DEDUCTION_YEN = 650_000  # 青色申告特別控除
FLAT_REDUCTION_YEN = 10_000  # 令和6年度 定額減税 (住民税), per person
FOREST_TAX_YEN = 1_000  # 森林環境税 (国税), collected with the 均等割 from 令和6年度

IncomeKind = Literal["給与所得", "事業所得（営業等）", "公的年金等に係る雑所得"]
Status = Literal["課税", "均等割のみ課税", "非課税"]
Collection = Literal["特別徴収（給与から差引き）", "特別徴収（年金から差引き）", "普通徴収"]


class Income(StrictModel):
    kind: IncomeKind = Field(description="所得の種類")
    revenue_yen: int = Field(ge=0, description="収入金額")
    income_yen: int = Field(ge=0, description="所得金額 (revenue less the statutory deduction or expenses)")


class Deduction(StrictModel):
    name: str = Field(description="所得控除の名称", examples=["社会保険料控除"])
    amount_yen: int = Field(ge=0)


class TaxCredit(StrictModel):
    name: str = Field(description="税額控除の名称", examples=["調整控除"])
    amount_yen: int = Field(ge=0)


class Levy(StrictModel):
    """One part of the year's tax: the municipal or prefectural resident tax, or the forest tax."""

    name: str = Field(examples=["市民税", "県民税", "特別区民税", "都民税", "森林環境税"])
    rate_percent: float | None = Field(description="所得割の税率 (null for the forest tax)")
    income_levy_yen: int = Field(ge=0, description="所得割額 (after tax credits)")
    per_capita_levy_yen: int = Field(ge=0, description="均等割額")


class TaxYear(StrictModel):
    fiscal_year: int = Field(description="課税年度 (April to March)", examples=[2026])
    fiscal_year_label: str = Field(examples=["令和8年度"])
    income_year: int = Field(description="The calendar year whose income was assessed", examples=[2025])
    status: Status = Field(description="課税 / 均等割のみ課税 / 非課税")
    incomes: list[Income] = Field(description="所得の内訳; empty when there was none")
    total_income_yen: int = Field(ge=0, description="合計所得金額")
    deductions: list[Deduction] = Field(description="所得控除")
    total_deductions_yen: int = Field(ge=0, description="所得控除額の合計")
    taxable_income_yen: int = Field(ge=0, description="課税標準額 (課税総所得金額, to the thousand yen)")
    dependents: int = Field(ge=0, description="扶養親族の数 (children under 16 included)")
    levies: list[Levy] = Field(
        description="市町村民税, 道府県民税 and 森林環境税 (the latter from 令和6年度)"
    )
    credits: list[TaxCredit] = Field(description="税額控除 taken off the 所得割")
    income_levy_yen: int = Field(ge=0, description="所得割額の合計")
    per_capita_levy_yen: int = Field(ge=0, description="均等割額の合計 (森林環境税 included)")
    annual_tax_yen: int = Field(ge=0, description="年税額")
    collection: Collection | None = Field(description="徴収方法; null when nothing is due")


class IncomeTaxData(StrictModel):
    model_config = ConfigDict(
        title="IncomeTaxData",
        json_schema_extra={
            "examples": [
                {
                    "municipality": {"code": "131016", "prefecture": "東京都", "name": "千代田区"},
                    "years": [
                        {
                            "fiscal_year": 2026,
                            "fiscal_year_label": "令和8年度",
                            "income_year": 2025,
                            "status": "課税",
                            "incomes": [
                                {"kind": "給与所得", "revenue_yen": 3_120_000, "income_yen": 2_104_000}
                            ],
                            "total_income_yen": 2_104_000,
                            "deductions": [
                                {"name": "社会保険料控除", "amount_yen": 468_000},
                                {"name": "基礎控除", "amount_yen": 430_000},
                            ],
                            "total_deductions_yen": 898_000,
                            "taxable_income_yen": 1_206_000,
                            "dependents": 0,
                            "levies": [
                                {
                                    "name": "特別区民税",
                                    "rate_percent": 6.0,
                                    "income_levy_yen": 70_800,
                                    "per_capita_levy_yen": 3_000,
                                },
                                {
                                    "name": "都民税",
                                    "rate_percent": 4.0,
                                    "income_levy_yen": 47_200,
                                    "per_capita_levy_yen": 1_000,
                                },
                                {
                                    "name": "森林環境税",
                                    "rate_percent": None,
                                    "income_levy_yen": 0,
                                    "per_capita_levy_yen": 1_000,
                                },
                            ],
                            "credits": [{"name": "調整控除", "amount_yen": 2_500}],
                            "income_levy_yen": 118_000,
                            "per_capita_levy_yen": 5_000,
                            "annual_tax_yen": 123_000,
                            "collection": "特別徴収（給与から差引き）",
                        }
                    ],
                }
            ]
        },
    )

    municipality: Municipality = Field(description="The municipality that assessed the tax")
    years: list[TaxYear] = Field(description="Newest first; empty when the resident has never been assessed")


# --- The assessment ---------------------------------------------------------------------------------------


def salary_deduction(revenue: int) -> int:
    """給与所得控除 (from 2020): the statutory allowance for employees."""
    if revenue <= 0:
        return 0
    if revenue <= 1_625_000:
        return min(revenue, 550_000)
    if revenue <= 1_800_000:
        return int(revenue * 0.4) - 100_000
    if revenue <= 3_600_000:
        return int(revenue * 0.3) + 80_000
    if revenue <= 6_600_000:
        return int(revenue * 0.2) + 440_000
    if revenue <= 8_500_000:
        return int(revenue * 0.1) + 1_100_000
    return 1_950_000


def rates(place: Municipality) -> tuple[str, float, str, float]:
    """Names and 所得割 rates of the municipal and prefectural parts."""
    prefecture_levy = {"東京都": "都民税", "北海道": "道民税"}.get(
        place.prefecture, "府民税" if place.prefecture.endswith("府") else "県民税"
    )
    if place.prefecture == "東京都" and place.name.endswith("区"):
        return "特別区民税", 6.0, prefecture_levy, 4.0
    if "市" in place.name and place.name.endswith("区"):  # a ward of a designated city (政令指定都市)
        return "市民税", 8.0, prefecture_levy, 2.0
    return "市町村民税", 6.0, prefecture_levy, 4.0


def per_capita(fiscal_year: int) -> tuple[int, int, int]:
    """均等割 (municipal, prefectural) and the forest tax; 500 yen each more from 2014 to 2023 (復興財源)."""
    if fiscal_year <= 2023:
        return 3_500, 1_500, 0
    return 3_000, 1_000, FOREST_TAX_YEN


@dataclass(frozen=True)
class Assessment:
    """One fiscal year's assessment, also read by other agencies' generators (care premium, co-payments)."""

    fiscal_year: int
    incomes: list[Income]
    total_income: int
    deductions: list[Deduction]
    taxable: int
    dependents: int
    status: Status
    levies: list[Levy]
    credits: list[TaxCredit]
    income_levy: int
    per_capita_levy: int
    collection: Collection | None

    @property
    def annual(self) -> int:
        return self.income_levy + self.per_capita_levy


def assess(life: Life, resident: Resident, world: AgencyWorld, fiscal_year: int) -> Assessment:
    year = fiscal_year - 1
    until = date(year, 12, 31)
    place = municipality(resident.municipality, resident.address)
    incomes: list[Income] = []
    salary = life.salary_in(year, until)
    if salary:
        incomes.append(
            Income(kind="給与所得", revenue_yen=salary, income_yen=max(0, salary - salary_deduction(salary)))
        )
    business = life.self_employment.revenue_in(year) if life.self_employment else 0
    if business:
        assert life.self_employment is not None
        net = business * (1 - life.self_employment.expense_ratio) - BLUE_RETURN_DEDUCTION_YEN
        incomes.append(Income(kind="事業所得（営業等）", revenue_yen=business, income_yen=yen(net, 1000)))
    pension = life.pension_income_in(year)
    if pension:
        incomes.append(
            Income(
                kind="公的年金等に係る雑所得",
                revenue_yen=pension,
                income_yen=max(0, pension - PENSION_DEDUCTION_65_YEN),
            )
        )
    total = sum(i.income_yen for i in incomes)

    children = (
        [c for c in eligible_children(resident, world) if c.birth_date <= until]
        if life.stage == "single_parent"
        else []
    )
    dependents = len(children)
    deductions: list[Deduction] = []
    social = _social_insurance(life, year, salary, business, pension, total)
    if social:
        deductions.append(Deduction(name="社会保険料控除", amount_yen=social))
    if life.life_insurance_deduction_yen and salary:
        deductions.append(Deduction(name="生命保険料控除", amount_yen=life.life_insurance_deduction_yen))
    special_disability = life.disability is not None and life.disability.certificate_issued_on <= until
    if special_disability:
        deductions.append(
            Deduction(name="障害者控除（特別障害者）", amount_yen=SPECIAL_DISABILITY_DEDUCTION_YEN)
        )
    single_parent = life.stage == "single_parent" and dependents > 0 and total <= 5_000_000
    if single_parent:
        deductions.append(Deduction(name="ひとり親控除", amount_yen=SINGLE_PARENT_DEDUCTION_YEN))
    for (
        child
    ) in children:  # 扶養控除: only dependents of 16 or more at the year's end count (年少扶養は対象外)
        age = child.age_on(until)
        if 16 <= age < 19:
            deductions.append(Deduction(name="扶養控除（一般）", amount_yen=330_000))
        elif 19 <= age < 23:
            deductions.append(Deduction(name="扶養控除（特定）", amount_yen=450_000))
    deductions.append(Deduction(name="基礎控除", amount_yen=BASIC_DEDUCTION_YEN))
    total_deductions = sum(d.amount_yen for d in deductions)
    taxable = yen(total - total_deductions, 1000)

    # 非課税限度額 of a 1級地: 35万円 × (本人 + 扶養) + 10万円 (+21万円 / +32万円 with dependents).
    per_capita_limit = 350_000 * (1 + dependents) + 100_000 + (210_000 if dependents else 0)
    income_limit = 350_000 * (1 + dependents) + 100_000 + (320_000 if dependents else 0)
    exempt_person = (single_parent or special_disability) and total <= 1_350_000
    if exempt_person or total <= per_capita_limit:
        status: Status = "非課税"
    elif total <= income_limit:
        status = "均等割のみ課税"
    else:
        status = "課税"

    municipal_name, municipal_rate, prefectural_name, prefectural_rate = rates(place)
    credits: list[TaxCredit] = []
    municipal_income = prefectural_income = 0
    if status == "課税":
        personal_difference = (
            50_000 + (50_000 if single_parent else 0) + (100_000 if special_disability else 0)
        )
        if taxable <= 2_000_000:
            adjustment = min(personal_difference, taxable) * 5 // 100
        else:
            adjustment = max(personal_difference - (taxable - 2_000_000), 50_000) * 5 // 100
        credits.append(TaxCredit(name="調整控除", amount_yen=adjustment))
        gross = taxable * (municipal_rate + prefectural_rate) / 100
        if fiscal_year == 2024:
            reduction = min(FLAT_REDUCTION_YEN * (1 + dependents), max(0, int(gross) - adjustment))
            credits.append(TaxCredit(name="定額減税", amount_yen=reduction))
        net = max(0.0, gross - sum(c.amount_yen for c in credits))
        share = municipal_rate / (municipal_rate + prefectural_rate)
        municipal_income = yen(net * share, 100)
        prefectural_income = yen(net * (1 - share), 100)
    municipal_capita, prefectural_capita, forest = per_capita(fiscal_year)
    if status == "非課税":
        municipal_capita = prefectural_capita = forest = 0
    levies = [
        Levy(
            name=municipal_name,
            rate_percent=municipal_rate,
            income_levy_yen=municipal_income,
            per_capita_levy_yen=municipal_capita,
        ),
        Levy(
            name=prefectural_name,
            rate_percent=prefectural_rate,
            income_levy_yen=prefectural_income,
            per_capita_levy_yen=prefectural_capita,
        ),
    ]
    if fiscal_year >= 2024:
        levies.append(
            Levy(name="森林環境税", rate_percent=None, income_levy_yen=0, per_capita_levy_yen=forest)
        )
    income_levy = municipal_income + prefectural_income
    per_capita_levy = municipal_capita + prefectural_capita + forest
    collection: Collection | None = None
    if income_levy + per_capita_levy:
        if life.job_on(date(fiscal_year, 6, 1)) is not None:
            collection = "特別徴収（給与から差引き）"
        elif pension >= 180_000:
            collection = "特別徴収（年金から差引き）"
        else:
            collection = "普通徴収"
    return Assessment(
        fiscal_year=fiscal_year,
        incomes=incomes,
        total_income=total,
        deductions=deductions,
        taxable=taxable,
        dependents=dependents,
        status=status,
        levies=levies,
        credits=credits,
        income_levy=income_levy,
        per_capita_levy=per_capita_levy,
        collection=collection,
    )


def _social_insurance(life: Life, year: int, salary: int, business: int, pension: int, total: int) -> int:
    """社会保険料控除: what the resident paid in the year, roughly as the insurers would bill it."""
    paid = salary * (
        0.15 if life.age_on(date(year, 12, 31)) < 40 else 0.159
    )  # 健保・厚年・雇用 (+介護 from 40)
    if pension:
        paid += pension * 0.075  # 介護保険料 and 国保 or 後期高齢者医療の保険料, taken from the pension
    employed_months = sum(1 for m in range(1, 13) if life.job_in_month(date(year, m, 1)) is not None)
    uninsured_months = 12 - employed_months if life.age_on(date(year, 12, 31)) < 60 else 0
    if uninsured_months and not pension:
        # National Health Insurance (roughly 10% of income plus a flat part) and the National Pension premium,
        # of which exempted months pay nothing or half.
        paid += (total * 0.1 + 50_000) * uninsured_months / 12
        national_pension = 16_980
        for m in range(1, 13):
            status = life.pension_status(date(year, m, 1))
            paid += {"納付済": national_pension, "半額免除": national_pension // 2}.get(status or "", 0)
    return int(paid)


def assessed_years(world: AgencyWorld) -> list[int]:
    latest = world.today.year if world.today.month >= ASSESSED_IN_MONTH else world.today.year - 1
    return list(range(latest, latest - YEARS_SHOWN, -1))


def generate(resident: Resident, world: AgencyWorld) -> dict[str, Any]:
    life = life_of(resident, world)
    years: list[TaxYear] = []
    for fiscal in assessed_years(world):
        a = assess(life, resident, world, fiscal)
        if life.stage == "child" or (not a.incomes and life.age_on(date(fiscal, 1, 1)) < 20):
            continue  # no income and not yet an adult: the tax office holds nothing on the person
        years.append(
            TaxYear(
                fiscal_year=fiscal,
                fiscal_year_label=f"{era_year(fiscal)}年度",
                income_year=fiscal - 1,
                status=a.status,
                incomes=a.incomes,
                total_income_yen=a.total_income,
                deductions=a.deductions,
                total_deductions_yen=sum(d.amount_yen for d in a.deductions),
                taxable_income_yen=a.taxable,
                dependents=a.dependents,
                levies=a.levies,
                credits=a.credits,
                income_levy_yen=a.income_levy,
                per_capita_levy_yen=a.per_capita_levy,
                annual_tax_yen=a.annual,
                collection=a.collection,
            )
        )
    data = IncomeTaxData(municipality=municipality(resident.municipality, resident.address), years=years)
    return data.model_dump(mode="json")
