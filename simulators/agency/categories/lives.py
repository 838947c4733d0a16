"""A resident's life story: the one source every agency's records are drawn from.

Agencies keep separate records, but of the same lives: the job a resident lost shows in the tax office's
salary figures, the pension record, the health insurer's history and Hello Work's benefit payments alike.
A story is drawn from the seed and the resident's demo id only, never from an agency's own random stream,
so every agency (and the information provision network) tells it the same way. A mis-linked record is
someone else's life and gets a story of its own. This module must never see a My Number.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date, timedelta
from functools import lru_cache
from typing import Literal

from .base import AgencyWorld, Resident, add_months, add_years, month_end, month_start, random_date
from .common import city_of, known_municipalities, municipality, prefecture_short

#: Life paths of working-age adults, handed out in turn so that every path appears among the residents.
PATHS = ("job_seeker", "public_housing", "student_loan", "self_employed", "medical_support")

Stage = Literal["child", "single_parent", "working", "elderly", "stranger"]
InsurerKind = Literal["健康保険組合", "全国健康保険協会", "国民健康保険", "後期高齢者医療"]

ELDERLY_AGE = 65
RETIREMENT_AGE = 60
#: 老齢基礎年金 (full, yearly), 令和7年度: born on or after 2 April 1956, and before.
BASIC_PENSION_FULL_YEN = 831_700
BASIC_PENSION_FULL_OLDER_YEN = 829_300
#: 老齢厚生年金 (報酬比例部分) per month insured, per yen of average monthly remuneration (after 2003).
EMPLOYEE_PENSION_RATE = 5.481 / 1000
#: 標準報酬月額's ceiling for the employees' pension.
REMUNERATION_CEILING_YEN = 650_000
#: Students' contributions could be deferred (学生納付特例) from April 2000; before April 1991 students were
#: not obliged to join, so those months only count towards eligibility (合算対象期間).
STUDENT_DEFERRAL_FROM = date(2000, 4, 1)
STUDENTS_COMPULSORY_FROM = date(1991, 4, 1)
#: The self-employed resident asks every July to pay half (半額免除) from this month on.
SELF_EMPLOYED_EXEMPTION_FROM = date(2019, 7, 1)

PensionStatus = Literal["厚生年金", "納付済", "全額免除", "半額免除", "学生納付特例", "合算対象期間"]


def life_rng(seed: int, key: str, *name: object) -> random.Random:
    """A random stream for one named choice in one life; it does not depend on any other choice."""
    return random.Random("|".join((str(seed), "life", key, *(str(n) for n in name))))


# --- Who is who -------------------------------------------------------------------------------------------


def eligible_children(resident: Resident, world: AgencyWorld) -> list[Resident]:
    return [
        m
        for m in world.household(resident.household_id)
        if m.relation == "child" and m.age_on(world.today) < 18 and m is not resident
    ]


def is_single_parent(resident: Resident, world: AgencyWorld) -> bool:
    household = world.household(resident.household_id)
    return (
        resident.relation == "head"
        and bool(eligible_children(resident, world))
        and not any(m.relation == "spouse" for m in household)
    )


def working_age(resident: Resident, world: AgencyWorld) -> bool:
    return 18 <= resident.age_on(world.today) < ELDERLY_AGE and not is_single_parent(resident, world)


def path_of(resident: Resident, world: AgencyWorld) -> str | None:
    """The working-age adult's life path; None for everyone else (and for someone else's record)."""
    if resident.mislinked or not working_age(resident, world):
        return None
    # Every agency sees the same adults (a mis-linked record's other birth date keeps him of working age),
    # so every agency hands out the same paths.
    adults = sorted(r.demo_id for r in world.residents if working_age(r, world))
    rotation = random.Random(f"{world.seed}|life|paths").randrange(len(PATHS))
    return PATHS[(adults.index(resident.demo_id) + rotation) % len(PATHS)]


def guardian_of(resident: Resident, world: AgencyWorld) -> Resident | None:
    if resident.relation != "child":
        return None
    return next((m for m in world.household(resident.household_id) if m.relation == "head"), None)


# --- Insurers and employers -------------------------------------------------------------------------------


def check_digit(digits: str) -> str:
    """検証番号 of an insurer number: weights 2, 1, 2, … from the right, digits of products summed."""
    total = 0
    for i, ch in enumerate(reversed(digits)):
        product = int(ch) * (2 if i % 2 == 0 else 1)
        total += product // 10 + product % 10
    return str((10 - total % 10) % 10)


@dataclass(frozen=True)
class Insurer:
    """保険者: who insures the resident for medical care."""

    kind: InsurerKind
    name: str
    number: str  # 保険者番号 (8 digits; 6 for municipal National Health Insurance)


def national_health_insurance(code: str) -> Insurer:
    place = municipality(code, "")
    city = city_of(place)
    digits = code[:2] + code[2:5]
    return Insurer("国民健康保険", f"{city} 国民健康保険", digits + check_digit(digits))


def elderly_union(code: str) -> Insurer:
    place = municipality(code, "")
    digits = "39" + code[:2] + "001"
    return Insurer(
        "後期高齢者医療", f"{place.prefecture}後期高齢者医療広域連合", digits + check_digit(digits)
    )


def kyokai(code: str) -> Insurer:
    place = municipality(code, "")
    digits = "01" + code[:2] + "001"
    return Insurer(
        "全国健康保険協会",
        f"全国健康保険協会 {prefecture_short(place.prefecture)}支部",
        digits + check_digit(digits),
    )


@dataclass(frozen=True)
class Employer:
    name: str  # 事業所名
    insurer: Insurer


# Fictional firms. Large ones run their own health insurance society (健康保険組合).
_LARGE_FIRMS = (
    "みなと精機",
    "東邦ロジテック",
    "さくら情報システム",
    "大和化成工業",
    "北斗電機",
    "あおば化学",
)
_SMALL_FIRMS = (
    "株式会社ひかり設計",
    "有限会社まるやま商店",
    "株式会社つばさケアサービス",
    "株式会社グリーンフーズ",
    "株式会社しらかば印刷",
    "合同会社ことのは翻訳",
    "株式会社みらい物流",
    "株式会社はやて工務店",
    "株式会社こもれびスーパー",
    "株式会社ほしぞら保育",
)


def _employer(rng: random.Random, code: str, large: bool) -> Employer:
    if large:
        core = rng.choice(_LARGE_FIRMS)
        # A society is registered where the firm has its head office (all in Tokyo here): one number per firm.
        digits = "0613" + f"{random.Random(f'society|{core}').randrange(100, 1000)}"
        society = Insurer("健康保険組合", f"{core}健康保険組合", digits + check_digit(digits))
        return Employer(f"株式会社{core}", society)
    return Employer(rng.choice(_SMALL_FIRMS), kyokai(code))


# --- The story --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Job:
    """One spell of employment: covered by the employees' pension, health and employment insurance."""

    employer: Employer
    started_on: date
    left_on: date | None  # last day of work; None while it lasts
    salary_now_yen: int  # yearly pay in ``reference_year`` (the last year worked)
    raise_rate: float
    leaving_reason: str | None  # 離職理由 as Hello Work records it
    involuntary: bool  # 会社都合: the leaver is a 特定受給資格者
    reference_year: int

    def covers_month(self, first: date) -> bool:
        """Insured for the month: from the month of joining to the month before the day after leaving."""
        end = month_end(first)
        return self.started_on <= end and (self.left_on is None or self.left_on >= end)

    def employed_on(self, day: date) -> bool:
        return self.started_on <= day and (self.left_on is None or day <= self.left_on)

    def yearly_rate(self, year: int) -> float:
        return self.salary_now_yen * (1 + self.raise_rate) ** (year - self.reference_year)

    def salary_in(self, year: int, until: date) -> int:
        """給与収入 paid in calendar ``year`` (up to ``until``), to the thousand yen."""
        paid = sum(
            1
            for m in range(1, 13)
            if self.employed_on(month_end(date(year, m, 1))) and month_end(date(year, m, 1)) <= until
        )
        return int(self.yearly_rate(year) * paid / 12 // 1000 * 1000)


@dataclass(frozen=True)
class SelfEmployment:
    since: date
    trade: str  # 業種
    revenue_yen: int  # yearly, in ``since``'s year; grows slowly
    expense_ratio: float

    def revenue_in(self, year: int) -> int:
        if year < self.since.year:
            return 0
        months = 12 if year > self.since.year else 13 - self.since.month
        return int(self.revenue_yen * (1.015 ** (year - self.since.year)) * months / 12 // 1000 * 1000)


@dataclass(frozen=True)
class Disability:
    """身体障害者手帳 (腎臓機能障害 1級) and the dialysis behind it."""

    kind: str
    grade: str
    dialysis_since: date
    certificate_issued_on: date
    support_since: date  # 自立支援医療（更生医療）, certified again every year from this day


@dataclass(frozen=True)
class Life:
    key: str  # the resident's demo id, or a mis-linked record's own key
    stage: Stage
    path: str | None
    birth_date: date
    sex: str
    municipality: str
    previous_municipality: str  # where the resident lived before moving here
    university: bool
    career_start: date | None
    jobs: tuple[Job, ...]
    self_employment: SelfEmployment | None
    moved_in_on: date | None  # only stories that hinge on a move know its day
    disability: Disability | None
    housing_since: date | None  # public housing tenant
    loan_since: date | None  # student loan: first year of asking for relief
    average_remuneration_yen: int  # for the employees' pension, over the whole career
    smoker: bool
    drinker: bool
    life_insurance_deduction_yen: int  # 生命保険料控除 (resident tax)

    def age_on(self, day: date) -> int:
        before_birthday = (day.month, day.day) < (self.birth_date.month, self.birth_date.day)
        return day.year - self.birth_date.year - int(before_birthday)

    def job_on(self, day: date) -> Job | None:
        return next((j for j in self.jobs if j.employed_on(day)), None)

    def job_in_month(self, first: date) -> Job | None:
        return next((j for j in self.jobs if j.covers_month(first)), None)

    @property
    def job_lost_on(self) -> date | None:
        """The last day at the job lost against the resident's will (the job seeker's story)."""
        return next((j.left_on for j in self.jobs if j.involuntary), None)

    def salary_in(self, year: int, until: date) -> int:
        return sum(j.salary_in(year, until) for j in self.jobs)

    def self_employed_on(self, day: date) -> bool:
        return self.self_employment is not None and self.self_employment.since <= day

    def insurer_on(self, day: date) -> Insurer:
        """Who insured the resident on ``day`` (children: through the guardian, see health_insurance)."""
        job = self.job_on(day)
        if job is not None and self.age_on(day) < 75:
            return job.employer.insurer
        if self.age_on(day) >= 75:
            return elderly_union(self.municipality)
        if self.moved_in_on is not None and day < self.moved_in_on:
            return national_health_insurance(self.previous_municipality)
        return national_health_insurance(self.municipality)

    # --- Pension ------------------------------------------------------------------------------------------

    @property
    def pension_from(self) -> date:
        """First month counted: the month of the 20th birthday, or an earlier first job."""
        twentieth = month_start(add_years(self.birth_date, 20))
        first_job = min((month_start(j.started_on) for j in self.jobs), default=twentieth)
        return min(twentieth, first_job)

    def pension_status(self, first: date) -> PensionStatus | None:
        """How one month counts in the pension record (None: not a month the record covers)."""
        job = self.job_in_month(first)
        if job is not None and self.age_on(month_end(first)) < 70:
            return "厚生年金"
        if (
            not month_start(add_years(self.birth_date, 20))
            <= first
            < month_start(add_years(self.birth_date, 60))
        ):
            return None
        if self.university and self.career_start is not None and first < self.career_start:
            if first >= STUDENT_DEFERRAL_FROM:
                return "学生納付特例"
            return "納付済" if first >= STUDENTS_COMPULSORY_FROM else "合算対象期間"
        lost = self.job_lost_on
        if lost is not None and first > lost:
            return "全額免除"  # 失業等による特例免除, asked for every July while out of work
        if self.self_employment is not None and first >= max(
            SELF_EMPLOYED_EXEMPTION_FROM, self.self_employment.since
        ):
            return "半額免除"
        return "納付済"

    def pension_months(self, until: date) -> list[tuple[date, PensionStatus]]:
        """Every month of the record from the first up to the month before ``until``."""
        return list(_pension_months(self, month_start(until)))

    def _pension_months(self, until: date) -> tuple[tuple[date, PensionStatus], ...]:
        out: list[tuple[date, PensionStatus]] = []
        current = self.pension_from
        last = month_start(until)
        while current < last:
            status = self.pension_status(current)
            if status is not None:
                out.append((current, status))
            current = add_months(current, 1)
        return tuple(out)

    def pension_amounts(self, until: date, *, to_sixty: bool = False) -> tuple[int, int]:
        """老齢基礎年金 and 老齢厚生年金 a year at 65 (令和7年度 rates), for the months recorded so far
        or, with ``to_sixty``, as if the present situation lasted until 60."""
        return _pension_amounts(self, month_start(until), to_sixty)

    def _pension_amounts(self, until: date, to_sixty: bool) -> tuple[int, int]:
        record = dict(self.pension_months(until))
        if to_sixty and record:
            current = max(record)
            status = record[current]
            end = month_start(add_years(self.birth_date, 60))
            month = add_months(current, 1)
            while month < end:
                record[month] = status
                month = add_months(month, 1)
        start_20 = month_start(add_years(self.birth_date, 20))
        end_60 = month_start(add_years(self.birth_date, 60))
        basic_units = 0.0
        employee_months = 0
        for month, status in record.items():
            if status == "厚生年金":
                employee_months += 1
            if not start_20 <= month < end_60:
                continue
            basic_units += {
                "厚生年金": 1.0,
                "納付済": 1.0,
                "全額免除": 0.5 if month >= date(2009, 4, 1) else 1 / 3,
                "半額免除": 0.75 if month >= date(2009, 4, 1) else 2 / 3,
            }.get(status, 0.0)
        full = BASIC_PENSION_FULL_YEN if self.birth_date >= date(1956, 4, 2) else BASIC_PENSION_FULL_OLDER_YEN
        basic = int(full * min(basic_units, 480) / 480 // 100 * 100)
        remuneration = min(self.average_remuneration_yen, REMUNERATION_CEILING_YEN)
        employees = int(remuneration * EMPLOYEE_PENSION_RATE * employee_months // 100 * 100)
        return basic, employees

    def receives_pension_on(self, day: date) -> bool:
        return self.age_on(day) >= ELDERLY_AGE and bool(self.pension_months(day))

    def pension_income_in(self, year: int) -> int:
        """公的年金等の収入金額 in calendar ``year``: benefits paid from the month after the 65th birthday."""
        if self.age_on(date(year, 12, 31)) < ELDERLY_AGE:
            return 0
        basic, employees = self.pension_amounts(add_years(self.birth_date, 60))
        start = add_months(month_start(add_years(self.birth_date, ELDERLY_AGE)), 1)
        paid = sum(1 for m in range(1, 13) if date(year, m, 1) >= start)
        return (basic + employees) * paid // 12


# A life is immutable, and taxes, premiums and co-payments all ask for its pension record: work it out once.
@lru_cache(maxsize=2048)
def _pension_months(life: Life, until: date) -> tuple[tuple[date, PensionStatus], ...]:
    return life._pension_months(until)


@lru_cache(maxsize=2048)
def _pension_amounts(life: Life, until: date, to_sixty: bool) -> tuple[int, int]:
    return life._pension_amounts(until, to_sixty)


# --- Drawing a life ---------------------------------------------------------------------------------------


def career_start(birth: date, university: bool) -> date:
    """First working day after school: April after high school (18) or university (22)."""
    school_cohort = birth.year if (birth.month, birth.day) >= (4, 2) else birth.year - 1
    return date(school_cohort + (23 if university else 19), 4, 1)


def _job(
    rng: random.Random,
    employer: Employer,
    started: date,
    left: date | None,
    salary_now: int,
    reason: str | None = None,
    *,
    involuntary: bool = False,
    today: date,
) -> Job:
    reference = min(left.year if left else today.year, today.year)
    return Job(
        employer=employer,
        started_on=started,
        left_on=left,
        salary_now_yen=salary_now // 10_000 * 10_000,
        raise_rate=rng.uniform(0.01, 0.025),
        leaving_reason=reason,
        involuntary=involuntary,
        reference_year=reference,
    )


def life_of(resident: Resident, world: AgencyWorld) -> Life:
    """The resident's story as every agency knows it (cached: generators ask for it often)."""
    stage: Stage
    if resident.mislinked:
        stage = "stranger"
    elif resident.age_on(world.today) < 18 and resident.relation == "child":
        stage = "child"
    elif resident.age_on(world.today) >= ELDERLY_AGE:
        stage = "elderly"
    elif is_single_parent(resident, world):
        stage = "single_parent"
    else:
        stage = "working"
    children = tuple(sorted(c.birth_date for c in eligible_children(resident, world)))
    key = f"mislinked:{world.agency_id}:{resident.demo_id}" if resident.mislinked else resident.demo_id
    return _draw(
        key,
        stage,
        path_of(resident, world),
        resident.birth_date,
        resident.sex,
        resident.municipality,
        children,
        world.seed,
        world.today,
    )


@lru_cache(maxsize=4096)
def _draw(
    key: str,
    stage: Stage,
    path: str | None,
    birth: date,
    sex: str,
    code: str,
    children: tuple[date, ...],
    seed: int,
    today: date,
) -> Life:
    def rng(*name: object) -> random.Random:
        return life_rng(seed, key, *name)

    elsewhere = rng("previous-municipality").choice([c for c in known_municipalities() if c != code])
    habits = rng("habits")
    smoker = habits.random() < (0.25 if sex == "1" else 0.08) and stage not in ("child",)
    drinker = habits.random() < 0.35 and stage not in ("child",)
    life = {
        "key": key,
        "stage": stage,
        "path": path,
        "birth_date": birth,
        "sex": sex,
        "municipality": code,
        "previous_municipality": elsewhere,
        "university": False,
        "career_start": None,
        "jobs": (),
        "self_employment": None,
        "moved_in_on": None,
        "disability": None,
        "housing_since": None,
        "loan_since": None,
        "average_remuneration_yen": 0,
        "smoker": smoker,
        "drinker": drinker,
        "life_insurance_deduction_yen": 0,
    }
    if stage == "child":
        return Life(**life)  # type: ignore[arg-type]

    university = rng("university").random() < (0.95 if path == "student_loan" else 0.6)
    start = career_start(birth, university)
    life["university"] = university
    life["career_start"] = start
    life["life_insurance_deduction_yen"] = rng("life-insurance").choice((0, 0, 28_000, 56_000, 70_000))
    firm = rng("employer")

    def employer(large: bool, *name: object) -> Employer:
        return _employer(rng("employer", *name), code, large)

    jobs: list[Job] = []
    if stage == "elderly":
        retired = month_end(add_years(birth, RETIREMENT_AGE))
        change = firm.random() < 0.5
        if change:
            moved = date(add_years(birth, firm.randint(35, 45)).year, 3, 31)
            jobs.append(_job(firm, employer(False, 1), start, moved, 3_200_000, "自己都合", today=today))
            jobs.append(
                _job(
                    firm,
                    employer(True, 2),
                    moved + timedelta(days=1),
                    retired,
                    6_400_000,
                    "定年",
                    today=today,
                )
            )
        else:
            jobs.append(_job(firm, employer(True, 1), start, retired, 6_600_000, "定年", today=today))
        life["average_remuneration_yen"] = firm.randrange(340_000, 420_000, 1000)
    elif stage == "single_parent":
        eldest = children[0] if children else add_years(birth, 26)
        left = month_end(eldest - timedelta(days=firm.randint(30, 120)))
        back = date(eldest.year + firm.randint(1, 3), 4, 1)
        if left > start:
            jobs.append(
                _job(
                    firm,
                    employer(False, 1),
                    start,
                    left,
                    2_600_000,
                    "自己都合（出産・育児のため）",
                    today=today,
                )
            )
        jobs.append(
            _job(firm, employer(False, 2), back, None, firm.randrange(2_700_000, 3_300_000), today=today)
        )
        life["average_remuneration_yen"] = 220_000
    elif path == "job_seeker":
        lost_month = date(2022 + rng("job-loss").randint(0, 1), rng("job-loss-month").randint(1, 12), 1)
        lost = month_end(lost_month)
        back = date(lost.year + 2, rng("reemployed").randint(10, 12), 1)  # after two years of exemptions
        jobs.append(
            _job(
                firm,
                employer(firm.random() < 0.5, 1),
                min(start, lost - timedelta(days=400)),
                lost,
                firm.randrange(4_600_000, 6_200_000),
                "事業所の縮小に伴う人員整理（会社都合）",
                involuntary=True,
                today=today,
            )
        )
        jobs.append(
            _job(firm, employer(False, 2), back, None, firm.randrange(3_300_000, 3_900_000), today=today)
        )
        life["average_remuneration_yen"] = 380_000
    elif path == "self_employed":
        since = random_date(rng("self-employed"), date(2012, 4, 1), date(2019, 3, 31)).replace(day=1)
        moved = random_date(
            rng("moved"), date(2021, 2, 1), date(2023, 11, 28)
        )  # moved in, then joined the new municipality's National Health Insurance
        trade = rng("trade").choice(
            ("ウェブデザイン業", "翻訳業", "飲食店経営", "写真撮影業", "ITコンサルタント業")
        )
        if since - timedelta(days=1) > start:
            jobs.append(
                _job(
                    firm,
                    employer(firm.random() < 0.4, 1),
                    start,
                    since - timedelta(days=1),
                    firm.randrange(3_800_000, 5_000_000),
                    "自己都合（独立開業のため）",
                    today=today,
                )
            )
        life["self_employment"] = SelfEmployment(
            since=since,
            trade=trade,
            revenue_yen=rng("revenue").randrange(3_000_000, 4_600_000, 10_000),
            expense_ratio=rng("revenue").uniform(0.38, 0.5),
        )
        life["moved_in_on"] = moved
        life["average_remuneration_yen"] = 320_000
    elif path == "medical_support":
        support = date(2020 + rng("support").randint(0, 2), rng("support-month").randint(1, 12), 1)
        support = support + timedelta(days=rng("support-day").randint(0, 27))
        dialysis = support - timedelta(days=rng("dialysis").randint(60, 120))
        issued = support - timedelta(days=rng("certificate").randint(10, 40))
        life["disability"] = Disability("腎臓機能障害", "1級", dialysis, issued, support)
        jobs.append(
            _job(firm, employer(True, 1), start, None, firm.randrange(5_600_000, 7_000_000), today=today)
        )
        life["average_remuneration_yen"] = 450_000
    else:
        # public housing, student loan and strangers: one or two ordinary jobs.
        low = path in ("public_housing", "student_loan")
        salary = firm.randrange(2_700_000, 3_200_000) if low else firm.randrange(4_200_000, 6_000_000)
        if firm.random() < 0.5 and start < today - timedelta(days=4 * 365):
            changed = month_end(random_date(firm, start + timedelta(days=700), today - timedelta(days=700)))
            jobs.append(
                _job(
                    firm,
                    employer(not low, 1),
                    start,
                    changed,
                    int(salary * 0.9),
                    "自己都合（転職のため）",
                    today=today,
                )
            )
            restart = add_months(changed, 1).replace(day=1)
            jobs.append(_job(firm, employer(False, 2), restart, None, salary, today=today))
        else:
            jobs.append(
                _job(firm, employer(not low and firm.random() < 0.6, 1), start, None, salary, today=today)
            )
        life["average_remuneration_yen"] = 240_000 if low else 360_000
        if path == "public_housing":
            life["housing_since"] = date(2019 + rng("housing").randint(0, 2), 4, 1)
        if path == "student_loan":
            life["loan_since"] = date(2020 + rng("loan").randint(0, 1), 4, 1)
    life["jobs"] = tuple(j for j in jobs if j.started_on <= today)
    return Life(**life)  # type: ignore[arg-type]
