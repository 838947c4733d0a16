"""``vaccination`` (予防接種): the vaccinations a municipality has on record for a resident.

Served by ``municipal-health``. A child has the routine schedule (定期接種 A類: B型肝炎, ヒブ, 小児用肺炎球菌,
四種混合, BCG, MR, 水痘, 日本脳炎, …) given at the ages the schedule sets, seasonal influenza and what is due
next; adults have COVID-19 (特例臨時接種 2021–2023, then 定期接種 B類 from 65), influenza (定期 B類 from 65,
otherwise 任意), the elderly's pneumococcal and shingles vaccines, and the rubella catch-up (風しん第5期) for
men of the cohorts it covers. Each record: disease, vaccine (product), kind, dose, date, lot number, place and
the municipality that ran it. Lot numbers are fictional.
"""

from __future__ import annotations

import random
import string
from collections.abc import Callable
from datetime import date, timedelta
from typing import Any, Literal

from pydantic import ConfigDict, Field

from .base import AgencyWorld, Resident, StrictModel, add_years, fiscal_year, random_date, weekday_on_or_after
from .clinical import facilities_for
from .common import city_of, municipality
from .lives import Life, life_of, life_rng

Kind = Literal["定期接種（A類）", "定期接種（B類）", "特例臨時接種", "任意接種"]
#: Adds one record (disease, vaccine, kind, dose, day, place) unless the day is still to come.
Recorder = Callable[[str, str, Kind, str, date, str], None]
ROUTINE: Kind = "定期接種（A類）"
ELDERLY_ROUTINE: Kind = "定期接種（B類）"

#: Records older than this are not shown for adults (the municipality's seasonal records begin here).
ADULT_RECORDS_FROM = date(2016, 4, 1)


class VaccinationRecord(StrictModel):
    disease: str = Field(description="対象疾病", examples=["麻しん・風しん"])
    vaccine: str = Field(description="ワクチン名 (product)", examples=["ミールビック"])
    kind: Kind = Field(description="接種の種類")
    dose: str = Field(description="接種回", examples=["1期", "2回目"])
    vaccinated_on: date = Field(description="接種日")
    lot_number: str = Field(description="ロット番号 (fictional)")
    place: str = Field(description="接種場所")
    municipality: str = Field(description="実施自治体")


class DueVaccination(StrictModel):
    disease: str
    dose: str
    kind: Kind
    recommended_from: date = Field(description="The schedule's first day for this dose")
    recommended_to: date = Field(description="The last day it is given as a routine vaccination")


class VaccinationData(StrictModel):
    model_config = ConfigDict(
        title="VaccinationData",
        json_schema_extra={
            "examples": [
                {
                    "records": [
                        {
                            "disease": "麻しん・風しん",
                            "vaccine": "ミールビック",
                            "kind": "定期接種（A類）",
                            "dose": "1期",
                            "vaccinated_on": "2017-09-11",
                            "lot_number": "MR241K",
                            "place": "港町こどもクリニック",
                            "municipality": "横浜市",
                        }
                    ],
                    "upcoming": [
                        {
                            "disease": "ジフテリア・破傷風",
                            "dose": "2期",
                            "kind": "定期接種（A類）",
                            "recommended_from": "2027-09-03",
                            "recommended_to": "2029-09-02",
                        }
                    ],
                }
            ]
        },
    )

    records: list[VaccinationRecord] = Field(description="Oldest first; empty when there are none")
    upcoming: list[DueVaccination] = Field(description="Routine doses due next (children; the elderly's)")


def _lot(rng: random.Random, vaccine: str) -> str:
    if vaccine.startswith("コミナティ"):
        return "".join(rng.choices(string.ascii_uppercase, k=2)) + f"{rng.randrange(1000, 10_000)}"
    if vaccine.startswith("スパイクバックス"):
        return f"300{rng.randrange(1000, 10_000)}"
    prefix = {"ミールビック": "MR", "ジェービックV": "JR", "アクトヒブ": "U", "ビケンHA": "HA"}.get(
        vaccine, ""
    )
    prefix = prefix or rng.choice(("A", "B", "C", "D", "K", "S", "T", "X"))
    return f"{prefix}{rng.randrange(100, 1000)}{rng.choice(string.ascii_uppercase)}"


def _influenza_vaccine(rng: random.Random) -> str:
    return rng.choice(
        (
            "インフルエンザHAワクチン「第一三共」",
            "インフルエンザHAワクチン「KMB」",
            "ビケンHA",
            "インフルエンザHAワクチン「生研」",
        )
    )


def _child_schedule(birth: date) -> list[tuple[str, str, Kind, str, date]]:
    """(disease, vaccine, kind, dose, day) of the routine schedule for a child born on ``birth``."""

    def at(days: int) -> date:
        return weekday_on_or_after(birth + timedelta(days=days))

    def years(n: int, days: int) -> date:
        return weekday_on_or_after(add_years(birth, n) + timedelta(days=days))

    pcv = "プレベナー13水性懸濁注" if at(60) < date(2024, 4, 1) else "バクニュバンス水性懸濁注"
    dpt = "テトラビック皮下注シリンジ" if at(90) < date(2024, 4, 1) else "ゴービック水性懸濁注"
    dpt_disease = "ジフテリア・百日せき・破傷風・急性灰白髄炎" + (
        "" if dpt.startswith("テトラ") else "・ヒブ感染症"
    )
    hepb_kind: Kind = ROUTINE if birth >= date(2016, 4, 1) else "任意接種"
    cohort = birth.year if (birth.month, birth.day) >= (4, 2) else birth.year - 1
    schedule: list[tuple[str, str, Kind, str, date]] = [
        ("B型肝炎", "ビームゲン注0.25mL", hepb_kind, "1回目", at(60)),
        ("B型肝炎", "ビームゲン注0.25mL", hepb_kind, "2回目", at(90)),
        ("B型肝炎", "ビームゲン注0.25mL", hepb_kind, "3回目", at(225)),
        ("小児の肺炎球菌感染症", pcv, ROUTINE, "初回1回目", at(60)),
        ("小児の肺炎球菌感染症", pcv, ROUTINE, "初回2回目", at(90)),
        ("小児の肺炎球菌感染症", pcv, ROUTINE, "初回3回目", at(120)),
        ("小児の肺炎球菌感染症", pcv, ROUTINE, "追加", at(400)),
        (dpt_disease, dpt, ROUTINE, "1期初回1回目", at(90)),
        (dpt_disease, dpt, ROUTINE, "1期初回2回目", at(120)),
        (dpt_disease, dpt, ROUTINE, "1期初回3回目", at(150)),
        (dpt_disease, dpt, ROUTINE, "1期追加", at(540)),
        ("結核", "乾燥BCGワクチン（経皮用・1人用）", ROUTINE, "1回", at(165)),
        ("麻しん・風しん", "ミールビック", ROUTINE, "1期", at(370)),
        ("水痘", "乾燥弱毒生水痘ワクチン「ビケン」", ROUTINE, "1回目", at(375)),
        ("水痘", "乾燥弱毒生水痘ワクチン「ビケン」", ROUTINE, "2回目", at(560)),
        ("麻しん・風しん", "ミールビック", ROUTINE, "2期", weekday_on_or_after(date(cohort + 6, 5, 12))),
        ("日本脳炎", "ジェービックV", ROUTINE, "1期初回1回目", years(3, 30)),
        ("日本脳炎", "ジェービックV", ROUTINE, "1期初回2回目", years(3, 58)),
        ("日本脳炎", "ジェービックV", ROUTINE, "1期追加", years(4, 60)),
        ("日本脳炎", "ジェービックV", ROUTINE, "2期", years(9, 100)),
    ]
    if dpt.startswith("テトラ"):  # Hib was a separate injection until the five-in-one vaccine (2024)
        schedule += [
            ("ヒブ感染症", "アクトヒブ", ROUTINE, "初回1回目", at(60)),
            ("ヒブ感染症", "アクトヒブ", ROUTINE, "初回2回目", at(90)),
            ("ヒブ感染症", "アクトヒブ", ROUTINE, "初回3回目", at(120)),
            ("ヒブ感染症", "アクトヒブ", ROUTINE, "追加", at(400)),
        ]
    rota_kind: Kind = ROUTINE if birth >= date(2020, 8, 1) else "任意接種"
    schedule += [
        ("ロタウイルス感染症", "ロタテック内用液", rota_kind, f"{n}回目", at(30 + 30 * n)) for n in (1, 2, 3)
    ]
    return schedule


def _child_due(birth: date, sex: str, given: set[tuple[str, str]]) -> list[DueVaccination]:
    due = [
        ("日本脳炎", "2期", add_years(birth, 9), add_years(birth, 13) - timedelta(days=1)),
        ("ジフテリア・破傷風", "2期", add_years(birth, 11), add_years(birth, 13) - timedelta(days=1)),
    ]
    if sex == "2":  # HPV: from the year of turning 12 (小学6年) to the year of turning 16 (高校1年)
        cohort = birth.year if (birth.month, birth.day) >= (4, 2) else birth.year - 1
        due.append(
            ("ヒトパピローマウイルス感染症", "1回目", date(cohort + 12, 4, 1), date(cohort + 17, 3, 31))
        )
    return [
        DueVaccination(disease=d, dose=n, kind=ROUTINE, recommended_from=start, recommended_to=end)
        for d, n, start, end in due
        if (d, n) not in given
    ]


def generate(resident: Resident, world: AgencyWorld) -> dict[str, Any]:
    life = life_of(resident, world)
    today = world.today
    place = municipality(resident.municipality, resident.address)
    city = city_of(place)
    clinics = facilities_for(resident, world)
    rng = life_rng(world.seed, life.key, "vaccination")
    records: list[VaccinationRecord] = []
    upcoming: list[DueVaccination] = []

    def add(disease: str, vaccine: str, kind: Kind, dose: str, day: date, where: str) -> None:
        if day < today and day >= life.birth_date:
            records.append(
                VaccinationRecord(
                    disease=disease,
                    vaccine=vaccine,
                    kind=kind,
                    dose=dose,
                    vaccinated_on=day,
                    lot_number=_lot(rng, vaccine),
                    place=where,
                    municipality=city,
                )
            )

    age = life.age_on(today)
    if life.stage == "child" or age < 18:
        pediatric = clinics.clinic("pediatric")
        for disease, vaccine, kind, dose, day in _child_schedule(life.birth_date):
            if kind == "任意接種" and rng.random() < 0.5:
                continue
            add(disease, vaccine, kind, dose, day, pediatric)
        if rng.random() < 0.7:
            add(
                "おたふくかぜ",
                "乾燥弱毒生おたふくかぜワクチン「第一三共」",
                "任意接種",
                "1回目",
                weekday_on_or_after(life.birth_date + timedelta(days=385)),
                pediatric,
            )
        for season in range(life.birth_date.year + 1, today.year + 1):
            if rng.random() < 0.6:
                vaccine = _influenza_vaccine(rng)
                first = weekday_on_or_after(date(season, rng.choice((10, 11)), rng.randint(1, 25)))
                doses = 2 if life.age_on(first) < 13 else 1
                for n in range(doses):
                    add(
                        "インフルエンザ",
                        vaccine,
                        "任意接種",
                        f"{n + 1}回目",
                        weekday_on_or_after(first + timedelta(days=21 * n)),
                        pediatric,
                    )
        if 5 <= life.age_on(date(2022, 6, 1)) <= 11 and rng.random() < 0.25:
            first = weekday_on_or_after(random_date(rng, date(2022, 3, 1), date(2022, 8, 31)))
            for n, day in enumerate((first, first + timedelta(days=21)), start=1):
                add(
                    "新型コロナウイルス感染症",
                    "コミナティ筋注5～11歳用",
                    "特例臨時接種",
                    f"{n}回目",
                    day,
                    pediatric,
                )
        given = {(r.disease, r.dose) for r in records}
        upcoming = [d for d in _child_due(life.birth_date, life.sex, given) if d.recommended_to >= today]
    else:
        _adult(life, rng, add, clinics.clinic("internal"), city, today)
        upcoming = _elderly_due(life, records, today)
    records.sort(key=lambda r: (r.vaccinated_on, r.disease, r.dose))
    return VaccinationData(records=records, upcoming=upcoming).model_dump(mode="json")


def _adult(life: Life, rng: random.Random, add: Recorder, clinic: str, city: str, today: date) -> None:
    elderly = lambda day: life.age_on(day) >= 65  # noqa: E731 - a one-line predicate
    job = life.job_on(date(2021, 6, 1))
    workplace = job is not None and job.employer.insurer.kind == "健康保険組合"
    # COVID-19: the first two doses in 2021 (the elderly first), then boosters.
    if rng.random() < 0.92:
        if elderly(date(2021, 4, 1)):
            first, vaccine, where = (
                random_date(rng, date(2021, 5, 10), date(2021, 6, 20)),
                "コミナティ筋注",
                f"{city}集団接種会場",
            )
        elif workplace and rng.random() < 0.6:
            first, vaccine, where = (
                random_date(rng, date(2021, 6, 21), date(2021, 8, 20)),
                "スパイクバックス筋注",
                f"{job.employer.name}（職域接種）",
            )
        else:
            first, vaccine, where = (
                random_date(rng, date(2021, 6, 15), date(2021, 9, 30)),
                "コミナティ筋注",
                clinic,
            )
        first = weekday_on_or_after(first)
        gap = 28 if vaccine.startswith("スパイク") else 21
        dose = 0
        for day in (first, weekday_on_or_after(first + timedelta(days=gap))):
            dose += 1
            add("新型コロナウイルス感染症", vaccine, "特例臨時接種", f"{dose}回目", day, where)
        boosters = [
            (date(2022, 1, 15), date(2022, 4, 30), "コミナティ筋注", 0.85, 1.0),
            (date(2022, 6, 1), date(2022, 7, 31), "コミナティ筋注", 0.0, 0.95),
            (
                date(2022, 10, 1),
                date(2022, 12, 20),
                "コミナティRTU筋注（2価：起源株/オミクロン株BA.4-5）",
                0.45,
                0.95,
            ),
            (
                date(2023, 5, 8),
                date(2023, 7, 31),
                "コミナティRTU筋注（2価：起源株/オミクロン株BA.4-5）",
                0.0,
                0.9,
            ),
            (
                date(2023, 9, 20),
                date(2023, 12, 20),
                "コミナティ筋注シリンジ12歳以上用（1価：オミクロン株XBB.1.5）",
                0.15,
                0.85,
            ),
        ]
        for start, end, product, odds, odds_elderly in boosters:
            if rng.random() < (odds_elderly if elderly(start) else odds):
                dose += 1
                add(
                    "新型コロナウイルス感染症",
                    product,
                    "特例臨時接種",
                    f"{dose}回目",
                    weekday_on_or_after(random_date(rng, start, end)),
                    clinic,
                )
        # From April 2024 only those of 65 and over are vaccinated under the Act (定期接種 B類), once a year.
        for season, product in (
            (2024, "コミナティ筋注シリンジ12歳以上用（1価：オミクロン株JN.1）"),
            (2025, "コミナティ筋注シリンジ12歳以上用（1価：オミクロン株LP.8.1）"),
        ):
            day = weekday_on_or_after(random_date(rng, date(season, 10, 1), date(season, 12, 20)))
            if elderly(day) and rng.random() < 0.6:
                dose += 1
                add("新型コロナウイルス感染症", product, ELDERLY_ROUTINE, f"{dose}回目", day, clinic)
    # Influenza: routine (B類) from 65, otherwise voluntary and recorded only when the municipality paid part.
    for season in range(ADULT_RECORDS_FROM.year, today.year + 1):
        day = weekday_on_or_after(date(season, rng.choice((10, 11, 12)), rng.randint(1, 20)))
        if elderly(day) and rng.random() < 0.85:
            add("インフルエンザ", _influenza_vaccine(rng), ELDERLY_ROUTINE, "1回目", day, clinic)
        elif not elderly(day) and rng.random() < 0.3:
            add("インフルエンザ", _influenza_vaccine(rng), "任意接種", "1回目", day, clinic)
    # 高齢者の肺炎球菌: once, in the fiscal year of turning 65 (70, 75, … until 2018).
    for fy in range(2014, today.year + 1):
        turning = life.age_on(date(fy + 1, 3, 31))
        if turning == 65 or (fy <= 2018 and turning in range(65, 101, 5)):
            add(
                "高齢者の肺炎球菌感染症",
                "ニューモバックスNP",
                ELDERLY_ROUTINE,
                "1回目",
                weekday_on_or_after(random_date(rng, date(fy, 6, 1), date(fy + 1, 2, 28))),
                clinic,
            )
            break
    # 帯状疱疹: routine from April 2025 at 65 and every fifth birthday to 100 (for five years).
    for fy in range(2025, min(2029, fiscal_year(today)) + 1):
        if life.age_on(date(fy + 1, 3, 31)) in range(65, 101, 5) and rng.random() < 0.6:
            first = weekday_on_or_after(random_date(rng, date(fy, 5, 1), date(fy, 9, 15)))
            add("帯状疱疹", "シングリックス筋注用", ELDERLY_ROUTINE, "1回目", first, clinic)
            add(
                "帯状疱疹",
                "シングリックス筋注用",
                ELDERLY_ROUTINE,
                "2回目",
                weekday_on_or_after(first + timedelta(days=63)),
                clinic,
            )
            break
    # 風しん第5期: men born 2 April 1962 to 1 April 1979 whose antibody test came back low.
    if life.sex == "1" and date(1962, 4, 2) <= life.birth_date <= date(1979, 4, 1) and rng.random() < 0.35:
        add(
            "風しん",
            "ミールビック",
            ROUTINE,
            "第5期",
            weekday_on_or_after(random_date(rng, date(2020, 4, 1), date(2022, 3, 31))),
            clinic,
        )


def _elderly_due(life: Life, records: list[VaccinationRecord], today: date) -> list[DueVaccination]:
    """帯状疱疹 (B類) for those whose eligible year is this fiscal year and who have not had it yet."""
    fy = fiscal_year(today)
    if fy > 2029 or life.age_on(date(fy + 1, 3, 31)) not in range(65, 101, 5):
        return []
    if any(r.disease == "帯状疱疹" for r in records):
        return []
    return [
        DueVaccination(
            disease="帯状疱疹",
            dose="1回目",
            kind=ELDERLY_ROUTINE,
            recommended_from=date(fy, 4, 1),
            recommended_to=date(fy + 1, 3, 31),
        )
    ]
