"""情報提供等記録: the exchanges between agencies about each resident, as the information provision network
(情報提供ネットワークシステム, run by the Digital Agency) logs them.

Generated at ``init`` from the demo residents' circumstances (age, household, and the life story of
categories/lives.py that the agencies' own records tell too), deterministically from the seed, for the seven
years the network keeps its records. The item numbers of the My Number Act's 別表第二 are invented for the
demo: they look like real ones and claim nothing more. This module must never see or emit a My Number; demo
ids only seed random streams.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from typing import Any

from .categories.base import AgencyWorld, Resident, add_years
from .categories.common import municipality
from .categories.lives import Life, eligible_children, is_single_parent, life_of
from .models import ProvisionRecord

#: The agency that serves the records, and the category it lists in demo/agencies.json.
PROVISION_AGENCY_ID = "info-network"
PROVISION_CATEGORY = "provision_records"
#: The network keeps a record for seven years (the current year and the six before it).
RETENTION_YEARS = 7

_JST = timezone(timedelta(hours=9), "JST")
_ACT = "行政手続における特定の個人を識別するための番号の利用等に関する法律"

_PLACES_EN: dict[str, str] = {
    "131016": "Chiyoda City, Tokyo",
    "131032": "Minato City, Tokyo",
    "131121": "Setagaya City, Tokyo",
    "141046": "Naka Ward, Yokohama",
    "231061": "Naka Ward, Nagoya",
    "271276": "Kita Ward, Osaka",
    "401331": "Chuo Ward, Fukuoka",
}
_PREFECTURES_EN: dict[str, str] = {
    "東京都": "Tokyo",
    "神奈川県": "Kanagawa",
    "愛知県": "Aichi",
    "大阪府": "Osaka",
    "福岡県": "Fukuoka",
}


@dataclass(frozen=True)
class Place:
    code: str
    name_ja: str
    name_en: str
    prefecture_ja: str
    prefecture_en: str


def _place(code: str, address: str = "") -> Place:
    m = municipality(code, address)
    return Place(
        code=code,
        name_ja=f"{m.prefecture}{m.name}" if m.prefecture == "東京都" else m.name,
        name_en=_PLACES_EN.get(code, f"municipality {code}"),
        prefecture_ja=m.prefecture,
        prefecture_en=_PREFECTURES_EN.get(m.prefecture, m.prefecture),
    )


@dataclass(frozen=True)
class Office:
    """A kind of body that asks or answers; ``scope`` says whose name goes in front of it."""

    id: str
    ja: str
    en: str
    scope: str = "municipal"  # municipal | prefectural | national

    def party(self, place: Place) -> dict[str, str]:
        if self.scope == "national":
            return {"id": self.id, "name_ja": self.ja, "name_en": self.en}
        if self.scope == "prefectural":
            return {
                "id": self.id,
                "name_ja": f"{place.prefecture_ja}{self.ja}",
                "name_en": f"{self.en}, {place.prefecture_en}",
            }
        return {
            "id": self.id,
            "name_ja": f"{place.name_ja} {self.ja}",
            "name_en": f"{self.en}, {place.name_en}",
        }


TAX = Office("municipal-tax", "税務課", "Tax division")
CHILD = Office("municipal-child", "子育て支援課", "Child support division")
NHI = Office("municipal-nhi", "国民健康保険課", "National Health Insurance division")
MEDICAL_AID = Office("municipal-medical-aid", "医療助成課", "Medical expense subsidy division")
HEALTH = Office("municipal-health", "保健所 予防接種担当", "Health centre (vaccinations)")
WELFARE = Office("municipal-welfare", "障害福祉課", "Disability welfare division")
CARE = Office("care-insurer", "介護保険課（介護保険者）", "Long-term care insurance division (insurer)")
HOUSING = Office("municipal-housing", "住宅課（公営住宅）", "Public housing division")
ELDERLY = Office(
    "elderly-medical-union",
    "後期高齢者医療広域連合",
    "Association for medical care of the elderly aged 75 and over",
    "prefectural",
)
PENSION = Office("pension-service", "日本年金機構", "Japan Pension Service", "national")
HELLO_WORK = Office(
    "hello-work",
    "ハローワーク（公共職業安定所）",
    "Hello Work (public employment security office)",
    "national",
)
HEALTH_INSURER = Office("health-insurer", "健康保険組合", "Health insurance society", "national")
JASSO = Office(
    "jasso", "独立行政法人日本学生支援機構", "Japan Student Services Organization (JASSO)", "national"
)


def _table(item: int) -> str:
    return f"{_ACT} 別表第二 項番{item}"


def _ordinance() -> str:
    return f"{_ACT} 第19条第9号（条例で定める独自利用事務）"


@dataclass(frozen=True)
class Exchange:
    """One kind of question over the network: who asks whom, for which procedure, for what."""

    key: str
    requester: Office
    provider: Office
    procedure_ja: str
    procedure_en: str
    legal_basis: str
    items_ja: str
    items_en: str


_LOCAL_TAX = ("地方税関係情報（所得・控除）", "Local tax information (income and deductions)")
_LOCAL_TAX_HOUSEHOLD = ("地方税関係情報（世帯の課税状況）", "Local tax information (household tax status)")
_PENSION_BENEFITS = (
    "年金給付関係情報（公的年金の受給状況）",
    "Pension benefit information (public pensions received)",
)
_INSURANCE = ("医療保険給付関係情報（医療保険の資格）", "Medical insurance information (insurance coverage)")
_EMPLOYMENT = (
    "雇用保険関係情報（離職理由・受給資格）",
    "Employment insurance information (reason for leaving, eligibility)",
)

CHILD_REARING_TAX = Exchange(
    "child-rearing-tax",
    CHILD,
    TAX,
    "児童扶養手当の支給に関する事務（現況届の審査）",
    "Child-rearing allowance: yearly status report",
    _table(57),
    *_LOCAL_TAX,
)
CHILD_REARING_PENSION = Exchange(
    "child-rearing-pension",
    CHILD,
    PENSION,
    "児童扶養手当の支給に関する事務（現況届の審査）",
    "Child-rearing allowance: yearly status report",
    _table(57),
    *_PENSION_BENEFITS,
)
CHILD_ALLOWANCE_TAX = Exchange(
    "child-allowance-tax",
    CHILD,
    TAX,
    "児童手当の支給に関する事務（所得制限の確認）",
    "Child allowance: income-limit check",
    _table(74),
    *_LOCAL_TAX,
)
LONE_PARENT_MEDICAL = Exchange(
    "lone-parent-medical",
    MEDICAL_AID,
    HEALTH_INSURER,
    "ひとり親家庭等医療費助成に関する事務（資格の確認）",
    "Medical expense subsidy for single-parent families: eligibility",
    _ordinance(),
    *_INSURANCE,
)
CHILD_MEDICAL = Exchange(
    "child-medical",
    MEDICAL_AID,
    HEALTH_INSURER,
    "小児医療費助成に関する事務（資格の確認）",
    "Children's medical expense subsidy: eligibility",
    _ordinance(),
    *_INSURANCE,
)
VACCINATION_TRANSFER = Exchange(
    "vaccination-transfer",
    HEALTH,
    HEALTH,
    "予防接種の実施に関する事務（転入前の接種歴の確認）",
    "Vaccinations: history from the previous municipality",
    _table(16),
    "予防接種関係情報（接種履歴）",
    "Vaccination information (vaccinations given)",
)
CARE_SHARE_TAX = Exchange(
    "care-share-tax",
    CARE,
    TAX,
    "介護保険の利用者負担割合の判定に関する事務",
    "Long-term care insurance: co-payment ratio",
    _table(93),
    *_LOCAL_TAX,
)
CARE_PREMIUM_PENSION = Exchange(
    "care-premium-pension",
    CARE,
    PENSION,
    "介護保険料の賦課に関する事務（年金収入の確認）",
    "Long-term care insurance premium: pension income",
    _table(94),
    "年金給付関係情報（年金額）",
    "Pension benefit information (amounts paid)",
)
ELDERLY_SHARE_TAX = Exchange(
    "elderly-share-tax",
    ELDERLY,
    TAX,
    "後期高齢者医療の一部負担金の割合の判定に関する事務",
    "Medical care for those aged 75 and over: co-payment ratio",
    _table(80),
    "地方税関係情報（所得・課税状況）",
    "Local tax information (income and tax status)",
)
COMBINED_HIGH_COST = Exchange(
    "combined-high-cost",
    CARE,
    ELDERLY,
    "高額医療・高額介護合算療養費の支給に関する事務",
    "Combined high-cost medical and care expenses",
    _table(95),
    "医療保険給付関係情報（自己負担額）",
    "Medical insurance information (amounts the patient paid)",
)
NHI_ENROLMENT = Exchange(
    "nhi-enrolment",
    NHI,
    HEALTH_INSURER,
    "国民健康保険の資格の取得に関する事務（被用者保険の資格喪失の確認）",
    "National Health Insurance enrolment: end of employee insurance",
    _table(42),
    "医療保険給付関係情報（資格喪失年月日）",
    "Medical insurance information (date coverage ended)",
)
NHI_JOB_LOSS = Exchange(
    "nhi-job-loss",
    NHI,
    HELLO_WORK,
    "国民健康保険税の軽減に関する事務（非自発的失業者）",
    "National Health Insurance tax relief after involuntary job loss",
    _table(43),
    *_EMPLOYMENT,
)
PENSION_JOB_LOSS = Exchange(
    "pension-job-loss",
    PENSION,
    HELLO_WORK,
    "国民年金保険料の免除に関する事務（失業等による特例）",
    "National Pension premium exemption after job loss",
    _table(39),
    *_EMPLOYMENT,
)
TRAINING_BENEFIT = Exchange(
    "training-benefit",
    HELLO_WORK,
    TAX,
    "職業訓練受講給付金の支給に関する事務（求職者支援制度）",
    "Vocational training benefit (job-seeker support scheme)",
    _table(115),
    "地方税関係情報（本人及び世帯の収入）",
    "Local tax information (own and household income)",
)
PENSION_EXEMPTION_TAX = Exchange(
    "pension-exemption-tax",
    PENSION,
    TAX,
    "国民年金保険料の免除・納付猶予に関する事務",
    "National Pension premium exemption or deferral",
    _table(39),
    *_LOCAL_TAX,
)
NHI_NEWCOMER_TAX = Exchange(
    "nhi-newcomer-tax",
    NHI,
    TAX,
    "国民健康保険税の賦課に関する事務（転入者の所得の確認）",
    "National Health Insurance tax: income of a newcomer",
    _table(42),
    *_LOCAL_TAX,
)
HOUSING_INCOME_TAX = Exchange(
    "housing-income-tax",
    HOUSING,
    TAX,
    "公営住宅の管理に関する事務（収入の認定）",
    "Public housing: yearly income assessment for the rent",
    _table(31),
    *_LOCAL_TAX_HOUSEHOLD,
)
HOUSING_INCOME_PENSION = Exchange(
    "housing-income-pension",
    HOUSING,
    PENSION,
    "公営住宅の管理に関する事務（収入の認定）",
    "Public housing: yearly income assessment for the rent",
    _table(31),
    *_PENSION_BENEFITS,
)
STUDENT_LOAN_TAX = Exchange(
    "student-loan-tax",
    JASSO,
    TAX,
    "学資の貸与に関する事務（返還期限猶予・減額返還の審査）",
    "Student loan repayment: deferral or reduced instalments",
    _table(106),
    *_LOCAL_TAX,
)
MEDICAL_SUPPORT_TAX = Exchange(
    "medical-support-tax",
    WELFARE,
    TAX,
    "自立支援医療費（更生医療）の支給認定に関する事務",
    "Medical care for persons with disabilities: certification",
    _table(108),
    *_LOCAL_TAX_HOUSEHOLD,
)
MEDICAL_SUPPORT_INSURER = Exchange(
    "medical-support-insurer",
    WELFARE,
    HEALTH_INSURER,
    "自立支援医療費（更生医療）の支給認定に関する事務",
    "Medical care for persons with disabilities: certification",
    _table(108),
    *_INSURANCE,
)


@dataclass(frozen=True)
class Event:
    exchange: Exchange
    day: date
    status: str = "provided"
    provider_place: Place | None = None  # None: the resident's own municipality (as for every requester)


class _Draws:
    """One resident's random choices, each from its own named stream.

    A choice depends only on its name (and the seed and the resident), never on how many were drawn
    before it, so a record keeps its day, time and id as the years pass and the window moves on.
    """

    def __init__(self, world: AgencyWorld, resident: Resident) -> None:
        self._world = world
        self._resident = resident

    def rng(self, *name: object) -> random.Random:
        return self._world.rng("provision", self._resident.demo_id, *(str(n) for n in name))

    def pick(self, name: str, least: int, most: int) -> int:
        return self.rng(name).randint(least, most)

    def day_in(self, name: str, year: int, month: int, first: int = 1, last: int = 28) -> date:
        return _weekday(date(year, month, self.rng(name, year, month).randint(first, last)))

    def after(self, name: str, day: date, least: int, most: int) -> date:
        return _weekday(day + timedelta(days=self.rng(name, day).randint(least, most)))


def _weekday(day: date) -> date:
    # Offices answer on weekdays: a Saturday or Sunday moves to the Monday after.
    return day + timedelta(days=7 - day.weekday()) if day.weekday() >= 5 else day


# --- Who has which exchanges -------------------------------------------------------------------------
# One-off stories are anchored to fixed years, so they do not move when the calendar year changes.

LifePath = Callable[[Resident, "_Context"], list[Event]]


@dataclass(frozen=True)
class _Context:
    world: AgencyWorld
    years: range  # every calendar year the network may still hold records of, up to this one
    draws: _Draws
    life: Life  # the story every agency tells: jobs lost, moves, certificates
    elsewhere: Place  # the municipality the resident lived in before


def _single_parent_events(resident: Resident, ctx: _Context) -> list[Event]:
    d = ctx.draws
    events = []
    pension_status = "provided" if resident.age_on(ctx.world.today) >= 65 else "no_record"
    for year in ctx.years:
        status_report = d.day_in("status-report", year, 8, 1, 31)
        events.append(Event(CHILD_REARING_TAX, status_report))
        events.append(Event(CHILD_REARING_PENSION, d.after("pension", status_report, 0, 2), pension_status))
        if year <= 2024:  # the child allowance's income limit was abolished from October 2024
            events.append(Event(CHILD_ALLOWANCE_TAX, d.day_in("child-allowance", year, 6)))
        events.append(Event(LONE_PARENT_MEDICAL, d.day_in("lone-parent-medical", year, 10)))
    return events


def _parent_events(resident: Resident, ctx: _Context) -> list[Event]:
    return [
        Event(CHILD_ALLOWANCE_TAX, ctx.draws.day_in("child-allowance", year, 6))
        for year in ctx.years
        if year <= 2024
    ]


def _child_events(resident: Resident, ctx: _Context) -> list[Event]:
    d = ctx.draws
    events = [Event(CHILD_MEDICAL, d.day_in("child-medical", year, 10)) for year in ctx.years]
    moved = d.day_in("moved", 2020 + d.pick("moved-year", 0, 2), d.pick("moved-month", 1, 12))
    events.append(Event(VACCINATION_TRANSFER, moved, provider_place=ctx.elsewhere))
    return [e for e in events if e.day > resident.birth_date]


def _elderly_events(resident: Resident, ctx: _Context) -> list[Event]:
    d = ctx.draws
    events = []
    for year in ctx.years:
        if date(year, 7, 1) < add_years(resident.birth_date, 65):
            continue
        share = d.day_in("care-share", year, 7)
        events.append(Event(CARE_SHARE_TAX, share))
        events.append(Event(CARE_PREMIUM_PENSION, d.after("care-premium", share, 0, 3)))
        if date(year, 8, 1) >= add_years(resident.birth_date, 75):
            events.append(Event(ELDERLY_SHARE_TAX, d.day_in("elderly-share", year, 8)))
    combined = d.day_in("combined", 2021 + d.pick("combined-year", 0, 4), 2)
    if combined >= add_years(resident.birth_date, 75):
        events.append(Event(COMBINED_HIGH_COST, combined))
    return events


def _job_seeker(resident: Resident, ctx: _Context) -> list[Event]:
    """Left a job, joined National Health Insurance, asked for relief and took vocational training."""
    d = ctx.draws
    left = ctx.life.job_lost_on
    if left is None:
        return []
    year = left.year
    return [
        Event(NHI_ENROLMENT, d.after("nhi-enrolment", left, 7, 20)),
        Event(NHI_JOB_LOSS, d.after("nhi-job-loss", left, 10, 25)),
        Event(PENSION_JOB_LOSS, d.after("pension-job-loss", left, 20, 40)),
        Event(TRAINING_BENEFIT, d.after("training", left, 45, 75)),
        Event(NHI_JOB_LOSS, d.day_in("nhi-job-loss", year + 1, 6)),  # the relief runs to the next fiscal year
        Event(PENSION_EXEMPTION_TAX, d.day_in("pension-exemption", year + 1, 7)),
        Event(PENSION_EXEMPTION_TAX, d.day_in("pension-exemption", year + 2, 7)),
    ]


def _public_housing(resident: Resident, ctx: _Context) -> list[Event]:
    """A tenant of public housing: the rent follows a yearly income assessment."""
    d = ctx.draws
    start = ctx.life.housing_since.year if ctx.life.housing_since else ctx.years[0]
    events = []
    for year in ctx.years:
        if year < start:
            continue
        day = d.day_in("housing", year, 6)
        events.append(Event(HOUSING_INCOME_TAX, day))
        if (year - start) % 3 == 0:
            status = "provided" if resident.age_on(day) >= 65 else "no_record"
            events.append(Event(HOUSING_INCOME_PENSION, d.after("housing-pension", day, 0, 2), status))
    return events


def _student_loan(resident: Resident, ctx: _Context) -> list[Event]:
    """Repays a student loan and asked, year after year, for a deferral or smaller instalments."""
    d = ctx.draws
    first = ctx.life.loan_since.year if ctx.life.loan_since else ctx.years[0]
    month = d.pick("loan-month", 4, 7)
    return [Event(STUDENT_LOAN_TAX, d.day_in("loan", year, month)) for year in range(first, first + 6)]


def _self_employed(resident: Resident, ctx: _Context) -> list[Event]:
    """Self-employed, moved in from another municipality, and asks each year to be spared the premium."""
    d = ctx.draws
    events = [Event(PENSION_EXEMPTION_TAX, d.day_in("pension-exemption", year, 7)) for year in ctx.years]
    newcomer = _weekday(ctx.life.moved_in_on or d.day_in("newcomer", ctx.years[0], 4))
    events.append(Event(NHI_NEWCOMER_TAX, newcomer, provider_place=ctx.elsewhere))
    events.append(Event(NHI_ENROLMENT, d.after("nhi-enrolment", newcomer, 0, 3)))
    return events


def _medical_support(resident: Resident, ctx: _Context) -> list[Event]:
    """Receives medical care for a disability (更生医療); certified again every year."""
    d = ctx.draws
    support = ctx.life.disability.support_since if ctx.life.disability else date(ctx.years[0], 4, 1)
    start, month = support.year, support.month
    events = []
    for year in ctx.years:
        if year < start:
            continue
        day = d.day_in("support", year, month)
        events.append(Event(MEDICAL_SUPPORT_TAX, day))
        events.append(Event(MEDICAL_SUPPORT_INSURER, d.after("support-insurer", day, 0, 1)))
    return events


#: The exchanges each life path of categories/lives.py leaves on the network.
PATH_EVENTS: dict[str, LifePath] = {
    "job_seeker": _job_seeker,
    "public_housing": _public_housing,
    "student_loan": _student_loan,
    "self_employed": _self_employed,
    "medical_support": _medical_support,
}


def _events(resident: Resident, world: AgencyWorld, ctx: _Context) -> list[Event]:
    age = resident.age_on(world.today)
    if resident.relation == "child" and age < 18:
        return _child_events(resident, ctx)
    events: list[Event] = []
    if is_single_parent(resident, world):
        events += _single_parent_events(resident, ctx)
    elif resident.relation == "head" and eligible_children(resident, world):
        events += _parent_events(resident, ctx)
    if age >= 65:
        events += _elderly_events(resident, ctx)
    elif ctx.life.path is not None:
        events += PATH_EVENTS[ctx.life.path](resident, ctx)
    return events


def generate(resident: Resident, world: AgencyWorld) -> list[dict[str, Any]]:
    """The resident's records, oldest first, as the endpoint serves them (JSON-ready, validated)."""
    first_kept = world.today.year - RETENTION_YEARS + 1
    draws = _Draws(world, resident)
    life = life_of(resident, world)
    ctx = _Context(
        world=world,
        years=range(first_kept, world.today.year + 1),
        draws=draws,
        life=life,
        elsewhere=_place(life.previous_municipality),
    )
    home = _place(resident.municipality, resident.address)

    records: dict[str, dict[str, Any]] = {}
    for event in _events(resident, world, ctx):
        if event.day.year < first_kept or event.day >= world.today:
            continue  # beyond what the network keeps, or not happened yet
        record = _record(draws, event, home)
        if record["id"] in records:
            raise ValueError(f"two provision records share the id {record['id']}")
        records[record["id"]] = record
    return sorted(records.values(), key=lambda r: (r["occurred_at"], r["id"]))


def _record(draws: _Draws, event: Event, home: Place) -> dict[str, Any]:
    x = event.exchange
    # The id and the time depend only on the event itself, so a record keeps both as the years pass.
    rng = draws.rng("record", x.key, event.day)
    seconds = rng.randint(8 * 3600 + 30 * 60, 17 * 3600 + 15 * 60)
    occurred = datetime.combine(event.day, time(seconds // 3600, seconds // 60 % 60, seconds % 60), _JST)
    record = ProvisionRecord(
        id=f"IPR-{rng.getrandbits(64):016X}",
        occurred_at=occurred,
        requester=x.requester.party(home),  # type: ignore[arg-type]
        provider=x.provider.party(event.provider_place or home),  # type: ignore[arg-type]
        procedure_ja=x.procedure_ja,
        procedure_en=x.procedure_en,
        legal_basis=x.legal_basis,
        items_ja=x.items_ja,
        items_en=x.items_en,
        status=event.status,  # type: ignore[arg-type]
    )
    return record.model_dump(mode="json")
