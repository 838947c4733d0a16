"""``long_term_care`` (介護保険): the resident's long-term care insurance as the municipality (保険者) holds
it.

Served by ``care-insurer``. From 65 a resident is a 第1号被保険者 with a card number, a premium stage (保険料
段階) set from the year's tax assessment and, once certified, a care level (要介護認定) with its validity, the
monthly benefit limit, the co-payment share and the services in use. From 40 to 64 a resident is a 第2号被保険
者 (the premium is collected with the health insurance); below 40 the insurance does not apply (対象外).
Premium bases are of the 第9期 (2024–2026) in outline; figures are illustrative.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any, Literal

from pydantic import ConfigDict, Field

from .base import AgencyWorld, Resident, StrictModel, add_months, add_years, month_end, random_date
from .common import Municipality, city_of, municipality, town_of
from .income_tax import assess
from .lives import ELDERLY_AGE, Life, life_of, life_rng

CareLevel = Literal["要支援1", "要支援2", "要介護1", "要介護2", "要介護3", "要介護4", "要介護5"]
LEVELS: tuple[CareLevel, ...] = ("要支援1", "要支援2", "要介護1", "要介護2", "要介護3", "要介護4", "要介護5")
#: 区分支給限度基準額 (units a month), from October 2019.
BENEFIT_LIMIT_UNITS: dict[str, int] = {
    "要支援1": 5_032,
    "要支援2": 10_531,
    "要介護1": 16_765,
    "要介護2": 19_705,
    "要介護3": 27_048,
    "要介護4": 30_938,
    "要介護5": 36_217,
}
#: Residents of this age or more have been certified as needing care (the demo's elderly father is 84).
CERTIFIED_FROM_AGE = 80
#: 第9期 monthly base premium (基準額) of the demo's municipalities; others get the national average.
BASE_PREMIUM_YEN: dict[str, int] = {
    "131016": 6_300,
    "131032": 6_100,
    "131121": 6_780,
    "141046": 6_500,
    "231061": 6_642,
    "271276": 9_249,
    "401331": 6_578,
}
NATIONAL_AVERAGE_PREMIUM_YEN = 6_225


class CareInsurer(StrictModel):
    name: str = Field(description="保険者名 (the municipality)", examples=["大阪市"])
    number: str = Field(pattern=r"^\d{6}$", description="保険者番号")


class Certification(StrictModel):
    """要介護認定 or 要支援認定: one certification and its validity."""

    level: CareLevel = Field(description="要介護状態区分")
    kind: Literal["新規", "更新"] = Field(description="新規 (first) or 更新 (renewal)")
    applied_on: date = Field(description="申請日")
    certified_on: date = Field(description="認定日")
    valid_from: date = Field(description="認定有効期間の開始")
    valid_to: date = Field(description="認定有効期間の終了")
    benefit_limit_units: int = Field(ge=0, description="区分支給限度基準額 (単位/月)")


class Service(StrictModel):
    service: str = Field(description="サービスの種類", examples=["通所介護（デイサービス）"])
    provider: str = Field(description="事業所名")
    frequency: str = Field(examples=["週2回"])


class Premium(StrictModel):
    fiscal_year: int = Field(examples=[2026])
    stage: str = Field(description="保険料段階", examples=["第6段階"])
    annual_yen: int = Field(ge=0, description="年額保険料")
    collection: Literal["特別徴収（年金から差引き）", "普通徴収"] = Field(description="徴収方法")


class LongTermCareData(StrictModel):
    model_config = ConfigDict(
        title="LongTermCareData",
        json_schema_extra={
            "examples": [
                {
                    "insured_category": "第2号被保険者",
                    "insurer": {"name": "世田谷区", "number": "131121"},
                    "insured_number": None,
                    "qualified_on": "2012-06-29",
                    "certification": None,
                    "certification_history": [],
                    "copayment_percent": None,
                    "care_manager_office": None,
                    "services": [],
                    "premium": None,
                    "note": "第2号被保険者の介護保険料は、加入している医療保険の保険料と一緒に納めます。",
                }
            ]
        },
    )

    insured_category: Literal["第1号被保険者", "第2号被保険者", "対象外"] = Field(
        description="65+: 第1号; 40–64 with health insurance: 第2号; under 40: 対象外"
    )
    insurer: CareInsurer | None = Field(description="保険者 (null when not insured)")
    insured_number: str | None = Field(pattern=r"^\d{10}$", description="被保険者番号 (第1号 only)")
    qualified_on: date | None = Field(description="資格取得日 (the day before the 65th or 40th birthday)")
    certification: Certification | None = Field(description="The certification in force today")
    certification_history: list[Certification] = Field(description="Earlier certifications, newest first")
    copayment_percent: Literal[10, 20, 30] | None = Field(description="利用者負担割合 (certified only)")
    care_manager_office: str | None = Field(description="居宅介護支援事業所 (care plan office)")
    services: list[Service] = Field(description="Services in the current care plan")
    premium: Premium | None = Field(description="第1号被保険者's premium for this fiscal year")
    note: str | None


@dataclass(frozen=True)
class Period:
    level: CareLevel
    kind: Literal["新規", "更新"]
    applied_on: date
    certified_on: date
    valid_from: date
    valid_to: date


def certifications(life: Life, world: AgencyWorld) -> list[Period]:
    """The resident's certifications, oldest first (none below ``CERTIFIED_FROM_AGE``)."""
    if life.age_on(world.today) < CERTIFIED_FROM_AGE or life.stage == "stranger":
        return []
    rng = life_rng(world.seed, life.key, "care-certification")
    earliest = max(add_years(life.birth_date, CERTIFIED_FROM_AGE), date(2019, 4, 1))
    applied = random_date(rng, earliest, max(earliest, world.today - timedelta(days=730)))
    level_index = rng.choice((1, 2, 2))  # 要支援2 or, more often, 要介護1
    periods = [
        Period(
            LEVELS[level_index],
            "新規",
            applied,
            applied + timedelta(days=rng.randint(25, 35)),
            applied,
            month_end(add_months(applied, 11)),
        )
    ]
    while periods[-1].valid_to < world.today:
        previous = periods[-1]
        level_index = min(level_index + rng.choice((0, 0, 1)), len(LEVELS) - 1)
        start = previous.valid_to + timedelta(days=1)
        length = rng.choice((24, 36))
        periods.append(
            Period(
                LEVELS[level_index],
                "更新",
                start - timedelta(days=rng.randint(40, 60)),
                start - timedelta(days=rng.randint(5, 15)),
                start,
                month_end(add_months(start, length - 1)),
            )
        )
    return periods


def care_level(life: Life, world: AgencyWorld) -> CareLevel | None:
    """The level in force today (read by the medical generators: care goes with medicines)."""
    current = [p for p in certifications(life, world) if p.valid_from <= world.today <= p.valid_to]
    return current[-1].level if current else None


def care_premium(life: Life, resident: Resident, world: AgencyWorld, fy: int) -> tuple[str, int]:
    """保険料段階 and yearly premium of a 第1号被保険者 (("", 0) below 65)."""
    if life.age_on(date(fy + 1, 3, 31)) < ELDERLY_AGE:
        return "", 0
    a = assess(life, resident, world, fy)
    base = BASE_PREMIUM_YEN.get(resident.municipality, NATIONAL_AVERAGE_PREMIUM_YEN) * (
        1.0 if fy >= 2024 else 0.96
    )
    pension_and_other = sum(i.revenue_yen for i in a.incomes if i.kind == "公的年金等に係る雑所得") + sum(
        i.income_yen for i in a.incomes if i.kind != "公的年金等に係る雑所得"
    )
    if a.status == "非課税":  # the resident lives alone: household and resident are both non-taxed
        if pension_and_other <= 809_000:
            stage, factor = "第1段階", 0.285
        elif pension_and_other <= 1_200_000:
            stage, factor = "第2段階", 0.485
        else:
            stage, factor = "第3段階", 0.685
    elif a.total_income < 1_200_000:
        stage, factor = "第6段階", 1.2
    elif a.total_income < 2_100_000:
        stage, factor = "第7段階", 1.3
    elif a.total_income < 3_200_000:
        stage, factor = "第8段階", 1.5
    else:
        stage, factor = "第9段階", 1.7
    return stage, int(base * factor * 12 // 100 * 100)


def _copayment(life: Life, resident: Resident, world: AgencyWorld) -> Literal[10, 20, 30]:
    a = assess(life, resident, world, world.today.year if world.today.month >= 8 else world.today.year - 1)
    pension_and_other = sum(i.revenue_yen for i in a.incomes)
    if a.total_income >= 2_200_000 and pension_and_other >= 3_400_000:
        return 30
    if a.total_income >= 1_600_000 and pension_and_other >= 2_800_000:
        return 20
    return 10


def _services(level: CareLevel, place: Municipality, address: str) -> tuple[str, list[Service]]:
    town = town_of(address, place)
    if level.startswith("要支援"):
        return f"{town}地域包括支援センター", [
            Service(
                service="介護予防通所リハビリテーション",
                provider=f"{town}リハビリセンター",
                frequency="週1回",
            ),
            Service(
                service="介護予防福祉用具貸与（歩行器）", provider=f"{town}福祉用具センター", frequency="月額"
            ),
        ]
    services = [
        Service(service="通所介護（デイサービス）", provider=f"デイサービス{town}", frequency="週2回"),
        Service(service="訪問介護（生活援助）", provider=f"{town}ヘルパーステーション", frequency="週1回"),
        Service(service="福祉用具貸与（手すり）", provider=f"{town}福祉用具センター", frequency="月額"),
    ]
    if level in ("要介護3", "要介護4", "要介護5"):
        services.append(
            Service(
                service="短期入所生活介護（ショートステイ）",
                provider=f"特別養護老人ホーム{town}の里",
                frequency="月3日",
            )
        )
    return f"ケアプランセンター{town}", services


def generate(resident: Resident, world: AgencyWorld) -> dict[str, Any]:
    life = life_of(resident, world)
    today = world.today
    place = municipality(resident.municipality, resident.address)
    insurer = CareInsurer(name=city_of(place), number=resident.municipality)
    age = life.age_on(today)
    if age < 40:
        data = LongTermCareData(
            insured_category="対象外",
            insurer=None,
            insured_number=None,
            qualified_on=None,
            certification=None,
            certification_history=[],
            copayment_percent=None,
            care_manager_office=None,
            services=[],
            premium=None,
            note="40歳未満の方は介護保険の被保険者ではありません。",
        )
        return data.model_dump(mode="json")
    if age < ELDERLY_AGE:
        data = LongTermCareData(
            insured_category="第2号被保険者",
            insurer=insurer,
            insured_number=None,
            qualified_on=add_years(life.birth_date, 40) - timedelta(days=1),
            certification=None,
            certification_history=[],
            copayment_percent=None,
            care_manager_office=None,
            services=[],
            premium=None,
            note="第2号被保険者の介護保険料は、加入している医療保険の保険料と一緒に納めます。",
        )
        return data.model_dump(mode="json")

    periods = [
        Certification(
            level=p.level,
            kind=p.kind,
            applied_on=p.applied_on,
            certified_on=p.certified_on,
            valid_from=p.valid_from,
            valid_to=p.valid_to,
            benefit_limit_units=BENEFIT_LIMIT_UNITS[p.level],
        )
        for p in certifications(life, world)
        if p.certified_on <= today
    ]
    current = next((c for c in reversed(periods) if c.valid_from <= today <= c.valid_to), None)
    history = [c for c in reversed(periods) if c is not current]
    office, services = _services(current.level, place, resident.address) if current else (None, [])
    fy = today.year if today.month >= 4 else today.year - 1
    stage, annual = care_premium(life, resident, world, fy)
    number = life_rng(world.seed, life.key, "care-insured-number")
    data = LongTermCareData(
        insured_category="第1号被保険者",
        insurer=insurer,
        insured_number=f"{number.randrange(10**9, 10**10)}",
        qualified_on=add_years(life.birth_date, ELDERLY_AGE) - timedelta(days=1),
        certification=current,
        certification_history=history,
        copayment_percent=_copayment(life, resident, world) if current else None,
        care_manager_office=office,
        services=services,
        premium=Premium(
            fiscal_year=fy,
            stage=stage,
            annual_yen=annual,
            collection="特別徴収（年金から差引き）" if life.pension_income_in(fy) >= 180_000 else "普通徴収",
        ),
        note=None,
    )
    return data.model_dump(mode="json")
