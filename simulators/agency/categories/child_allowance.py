"""``child_allowance`` (児童手当・児童扶養手当): allowances a municipality pays for a resident's children.

Served by ``municipal-child``. A head of household with children of up to high-school age receives 児童手当;
a single parent (no spouse in the household) also receives 児童扶養手当 with its yearly 現況届. Everyone else
gets an explicit empty list, never an error. Amounts are the rates in force from April 2025 (令和7年度).
"""

from __future__ import annotations

from datetime import date
from typing import Any

from pydantic import ConfigDict, Field

from .base import AgencyWorld, Resident, StrictModel, add_years, random_date
from .common import Municipality, PersonRef, PersonWithBirthDate, municipality

# 児童扶養手当, 令和7年4月分から: full amount for the first child, addition for each further child.
CHILD_REARING_FULL_FIRST_CHILD_YEN = 46_690
CHILD_REARING_FULL_ADDITIONAL_CHILD_YEN = 11_030
# 児童手当, 令和6年10月分から (per child, per month).
CHILD_ALLOWANCE_UNDER_3_YEN = 15_000
CHILD_ALLOWANCE_3_AND_OVER_YEN = 10_000
CHILD_ALLOWANCE_THIRD_CHILD_YEN = 30_000


class StatusReport(StrictModel):
    name: str = Field(examples=["現況届"])
    due_month: int = Field(ge=1, le=12, examples=[8])
    period: str = Field(examples=["毎年8月1日から8月31日まで"])


class AllowanceRecord(StrictModel):
    program: str = Field(description="Name of the allowance", examples=["児童扶養手当"])
    program_en: str = Field(examples=["Child-rearing allowance (single-parent households)"])
    certificate_number: str = Field(description="証書番号", examples=["14104-372911"])
    status: str = Field(description="支給状況", examples=["支給中"])
    started_on: date = Field(description="支給開始年月日 (first day of the first month paid)")
    recipient: PersonRef = Field(description="受給者")
    children: list[PersonWithBirthDate] = Field(description="対象児童")
    monthly_amount_yen: int = Field(
        ge=0, description="手当月額 (yen)", examples=[CHILD_REARING_FULL_FIRST_CHILD_YEN]
    )
    amount_basis: str = Field(description="How the monthly amount is set", examples=["全部支給"])
    payment_months: list[int] = Field(description="支払月 (each payment covers the two months before)")
    status_report: StatusReport | None = Field(description="The yearly report the recipient must submit")
    municipality: Municipality


class ChildAllowanceData(StrictModel):
    model_config = ConfigDict(
        title="ChildAllowanceData",
        json_schema_extra={
            "examples": [
                {"records": []},
                {
                    "records": [
                        {
                            "program": "児童扶養手当",
                            "program_en": "Child-rearing allowance (single-parent households)",
                            "certificate_number": "14104-372911",
                            "status": "支給中",
                            "started_on": "2020-06-01",
                            "recipient": {"name": "佐藤 美咲", "name_kana": "サトウ ミサキ"},
                            "children": [
                                {
                                    "name": "佐藤 陽翔",
                                    "name_kana": "サトウ ハルト",
                                    "birth_date": "2016-09-03",
                                }
                            ],
                            "monthly_amount_yen": CHILD_REARING_FULL_FIRST_CHILD_YEN,
                            "amount_basis": "全部支給（令和7年4月分から）",
                            "payment_months": [1, 3, 5, 7, 9, 11],
                            "status_report": {
                                "name": "現況届",
                                "due_month": 8,
                                "period": "毎年8月1日から8月31日まで",
                            },
                            "municipality": {
                                "code": "141046",
                                "prefecture": "神奈川県",
                                "name": "横浜市中区",
                            },
                        }
                    ]
                },
            ]
        },
    )

    records: list[AllowanceRecord] = Field(description="Empty when the resident receives no allowance")


def _eligible_until(child: Resident) -> date:
    # Both allowances run until the 31 March following the child's 18th birthday (高校生年代まで).
    eighteenth = add_years(child.birth_date, 18)
    return date(eighteenth.year + (1 if eighteenth.month > 3 else 0), 3, 31)


def _child_allowance_amount(children: list[Resident], today: date) -> int:
    total = 0
    for rank, child in enumerate(children, start=1):
        if rank >= 3:
            total += CHILD_ALLOWANCE_THIRD_CHILD_YEN
        elif child.age_on(today) < 3:
            total += CHILD_ALLOWANCE_UNDER_3_YEN
        else:
            total += CHILD_ALLOWANCE_3_AND_OVER_YEN
    return total


def generate(resident: Resident, world: AgencyWorld) -> dict[str, Any]:
    household = world.household(resident.household_id)
    children = sorted(
        (m for m in household if m.relation == "child" and world.today <= _eligible_until(m)),
        key=lambda m: m.birth_date,
    )
    if resident.relation != "head" or not children:
        return ChildAllowanceData(records=[]).model_dump(mode="json")

    rng = world.rng("child_allowance", resident.household_id)
    place = municipality(resident.municipality, resident.address)
    recipient = PersonRef(name=resident.name, name_kana=resident.name_kana)
    child_refs = [
        PersonWithBirthDate(name=c.name, name_kana=c.name_kana, birth_date=c.birth_date) for c in children
    ]

    def first_month_after(day: date) -> date:
        return date(day.year + day.month // 12, day.month % 12 + 1, 1)

    records = [
        AllowanceRecord(
            program="児童手当",
            program_en="Child allowance",
            certificate_number=f"{place.code[:5]}-{rng.randrange(100_000, 1_000_000)}",
            status="支給中",
            started_on=first_month_after(children[0].birth_date),
            recipient=recipient,
            children=child_refs,
            monthly_amount_yen=_child_allowance_amount(children, world.today),
            amount_basis="児童手当法による月額（令和6年10月分から）",
            payment_months=[2, 4, 6, 8, 10, 12],
            status_report=None,  # 児童手当の現況届 is no longer required in principle (since 2022)
            municipality=place,
        )
    ]
    single_parent = not any(m.relation == "spouse" for m in household)
    if single_parent:
        became_single = random_date(rng, max(children[0].birth_date, date(2018, 4, 1)), date(2024, 3, 31))
        records.insert(
            0,
            AllowanceRecord(
                program="児童扶養手当",
                program_en="Child-rearing allowance (single-parent households)",
                certificate_number=f"{place.code[:5]}-{rng.randrange(100_000, 1_000_000)}",
                status="支給中",
                started_on=first_month_after(became_single),
                recipient=recipient,
                children=child_refs,
                monthly_amount_yen=CHILD_REARING_FULL_FIRST_CHILD_YEN
                + CHILD_REARING_FULL_ADDITIONAL_CHILD_YEN * (len(children) - 1),
                amount_basis="全部支給（令和7年4月分から）",
                payment_months=[1, 3, 5, 7, 9, 11],
                status_report=StatusReport(name="現況届", due_month=8, period="毎年8月1日から8月31日まで"),
                municipality=place,
            ),
        )
    return ChildAllowanceData(records=records).model_dump(mode="json")
