"""A resident's medical story: conditions, visits, prescriptions and their costs.

One story feeds ``medical_drugs``, ``medical_expenses`` and ``medical_checkups`` (and names the clinics
``vaccination`` and ``disability`` mention), so the three agree: every dispensing has its pharmacy's monthly
claim, a medicine for blood pressure appears when the checkups' blood pressure was high, the dialysis patient
goes three times a week. Drawn from the seed and the life story only. Drug names are real-looking Japanese
product names (generic name, strength, maker) with rough 薬価; visits and fees are plausible, not a fee
schedule. This module must never see a My Number.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import date, timedelta
from functools import lru_cache
from typing import Literal

from .base import (
    AgencyWorld,
    Resident,
    add_months,
    add_years,
    month_end,
    month_start,
    random_date,
    weekday_on_or_after,
)
from .common import city_of, municipality, town_of
from .lives import Life, life_of, life_rng
from .long_term_care import care_level

#: Months of records the medical insurance data service holds (薬剤情報 and 医療費通知情報: three years),
#: ending with the month before last (claims take a month or so to be processed).
WINDOW_MONTHS = 36

Route = Literal["内服", "頓服", "外用"]
VisitKind = Literal["外来", "入院", "歯科"]


@dataclass(frozen=True)
class Drug:
    name: str  # 医薬品名 as dispensed: generic name, strength and maker (or a brand)
    unit: str  # 錠, カプセル, g, mL, 枚, 本, 包
    route: Route
    usage: str  # 用法
    amount: float  # a day's amount (内服), one dose (頓服) or the whole (外用)
    price_yen: float  # 薬価 per unit, roughly


D = Drug
# Chronic conditions' medicines, by condition; one line of each list is drawn per resident.
CHRONIC_DRUGS: dict[str, tuple[tuple[Drug, ...], ...]] = {
    "hypertension": (
        (D("アムロジピン錠5mg「サワイ」", "錠", "内服", "1日1回朝食後", 1, 10.1),),
        (D("オルメサルタンOD錠20mg「DSEP」", "錠", "内服", "1日1回朝食後", 1, 21.0),),
        (D("テルミサルタン錠40mg「トーワ」", "錠", "内服", "1日1回朝食後", 1, 10.4),),
        (
            D("カンデサルタン錠8mg「あすか」", "錠", "内服", "1日1回朝食後", 1, 16.5),
            D("アムロジピンOD錠2.5mg「トーワ」", "錠", "内服", "1日1回朝食後", 1, 10.1),
        ),
    ),
    "dyslipidemia": (
        (D("ロスバスタチン錠2.5mg「DSEP」", "錠", "内服", "1日1回夕食後", 1, 10.1),),
        (D("アトルバスタチン錠10mg「サワイ」", "錠", "内服", "1日1回夕食後", 1, 14.3),),
        (D("ピタバスタチンCa錠2mg「トーワ」", "錠", "内服", "1日1回夕食後", 1, 15.2),),
    ),
    "diabetes": (
        (
            D("メトホルミン塩酸塩錠250mgMT「DSEP」", "錠", "内服", "1日2回朝夕食後", 4, 10.1),
            D("ジャヌビア錠50mg", "錠", "内服", "1日1回朝食後", 1, 94.9),
        ),
        (
            D("メトホルミン塩酸塩錠500mgMT「トーワ」", "錠", "内服", "1日2回朝夕食後", 2, 10.4),
            D("トラゼンタ錠5mg", "錠", "内服", "1日1回朝食後", 1, 127.6),
        ),
    ),
    "hyperuricemia": ((D("フェブキソスタット錠20mg「サワイ」", "錠", "内服", "1日1回朝食後", 1, 19.4),),),
    "gerd": (
        (D("ランソプラゾールOD錠15mg「トーワ」", "錠", "内服", "1日1回朝食後", 1, 19.4),),
        (D("タケキャブ錠10mg", "錠", "内服", "1日1回朝食後", 1, 94.4),),
        (D("ファモチジン錠20mg「サワイ」", "錠", "内服", "1日2回朝夕食後", 2, 10.1),),
    ),
    "insomnia": (
        (D("ゾルピデム酒石酸塩錠5mg「サワイ」", "錠", "内服", "1日1回就寝前", 1, 10.1),),
        (D("デエビゴ錠5mg", "錠", "内服", "1日1回就寝前", 1, 92.8),),
    ),
    "rhinitis": (
        (
            D("フェキソフェナジン塩酸塩錠60mg「サワイ」", "錠", "内服", "1日2回朝夕食後", 2, 10.1),
            D("モメタゾン点鼻液50μg「杏林」112噴霧用", "本", "外用", "1日1回 各鼻腔に2噴霧", 1, 757.3),
        ),
        (D("ビラノア錠20mg", "錠", "内服", "1日1回就寝前（空腹時）", 1, 55.1),),
    ),
    "asthma": (
        (
            D("フルティフォーム125エアゾール56吸入用", "本", "外用", "1回2吸入 1日2回", 1, 3354.0),
            D("モンテルカスト錠10mg「KM」", "錠", "内服", "1日1回就寝前", 1, 29.7),
        ),
    ),
    "osteoarthritis": (
        (
            D("セレコキシブ錠100mg「JG」", "錠", "内服", "1日2回朝夕食後", 2, 19.9),
            D("ロキソプロフェンNaテープ100mg「ユートク」", "枚", "外用", "1日1回 患部に貼付", 28, 17.1),
        ),
    ),
    "constipation": ((D("酸化マグネシウム錠330mg「ケンエー」", "錠", "内服", "1日3回毎食後", 3, 5.7),),),
    "bph": (
        (D("タムスロシン塩酸塩OD錠0.2mg「サワイ」", "錠", "内服", "1日1回朝食後", 1, 18.6),),
        (D("ナフトピジルOD錠50mg「タカタ」", "錠", "内服", "1日1回夕食後", 1, 17.5),),
    ),
    "osteoporosis": (
        (D("エルデカルシトールカプセル0.75μg「サワイ」", "カプセル", "内服", "1日1回朝食後", 1, 34.9),),
        (D("アレンドロン酸錠35mg「サワイ」", "錠", "内服", "1週間に1回 起床時", 1, 101.2),),
    ),
    "dementia": ((D("ドネペジル塩酸塩OD錠5mg「サワイ」", "錠", "内服", "1日1回朝食後", 1, 29.6),),),
    "afib": (
        (
            D("エリキュース錠2.5mg", "錠", "内服", "1日2回朝夕食後", 2, 130.7),
            D("ビソプロロールフマル酸塩錠2.5mg「サワイ」", "錠", "内服", "1日1回朝食後", 1, 10.4),
        ),
    ),
    "dialysis": (
        (
            D("炭酸ランタンOD錠250mg「ナガセ」", "錠", "内服", "1日3回毎食直後", 3, 60.9),
            D("沈降炭酸カルシウム錠500mg「三和」", "錠", "内服", "1日3回毎食後", 3, 5.7),
            D("シナカルセト錠25mg「フソー」", "錠", "内服", "1日1回夕食後", 1, 98.7),
            D("アムロジピン錠5mg「サワイ」", "錠", "内服", "1日1回朝食後", 1, 10.1),
        ),
    ),
}
#: A child's long-term medicines, where they differ from an adult's.
CHILD_CHRONIC_DRUGS: dict[str, tuple[tuple[Drug, ...], ...]] = {
    "rhinitis": (
        (
            D("モンテルカストチュアブル錠5mg「KM」", "錠", "内服", "1日1回就寝前", 1, 35.1),
            D("オロパタジン塩酸塩OD錠2.5mg「サワイ」", "錠", "内服", "1日2回朝食後及び就寝前", 2, 10.1),
        ),
    ),
}
# Which clinic treats what, how often (days between visits) and what the checkups see of it.
CONDITIONS: dict[str, tuple[str, str, int]] = {
    # key: (clinic, department, interval in days)
    "hypertension": ("internal", "内科", 28),
    "dyslipidemia": ("internal", "内科", 28),
    "diabetes": ("internal", "内科", 28),
    "hyperuricemia": ("internal", "内科", 56),
    "gerd": ("internal", "内科", 28),
    "insomnia": ("psychosomatic", "心療内科", 28),
    "rhinitis": ("ent", "耳鼻咽喉科", 28),
    "asthma": ("internal", "内科", 56),
    "osteoarthritis": ("orthopedic", "整形外科", 28),
    "constipation": ("internal", "内科", 28),
    "bph": ("urology", "泌尿器科", 56),
    "osteoporosis": ("orthopedic", "整形外科", 28),
    "dementia": ("internal", "内科", 28),
    "afib": ("internal", "内科", 28),
    "dialysis": ("dialysis", "腎臓内科", 28),
}
#: 花粉症: treated from February to April only.
SEASONAL = {"rhinitis": (2, 3, 4)}
#: Conditions whose medicine the 特定健診 questionnaire asks about.
BLOOD_PRESSURE, GLUCOSE, LIPIDS = "hypertension", "diabetes", "dyslipidemia"

ACUTE_ADULT: dict[str, tuple[str, str, tuple[Drug, ...], int]] = {
    # key: (clinic, department, medicines, days)
    "cold": (
        "internal",
        "内科",
        (
            D("カルボシステイン錠500mg「サワイ」", "錠", "内服", "1日3回毎食後", 3, 7.7),
            D("トラネキサム酸錠250mg「YD」", "錠", "内服", "1日3回毎食後", 3, 10.1),
            D("デキストロメトルファン臭化水素酸塩錠15mg「NP」", "錠", "内服", "1日3回毎食後", 3, 5.7),
        ),
        5,
    ),
    "influenza": (
        "internal",
        "内科",
        (
            D("オセルタミビルカプセル75mg「サワイ」", "カプセル", "内服", "1日2回朝夕食後", 2, 102.3),
            D("アセトアミノフェン錠200mg「NP」", "錠", "頓服", "発熱時 1回2錠（4時間以上あけて）", 2, 6.3),
        ),
        5,
    ),
    "gastro": (
        "internal",
        "内科",
        (
            D("ビオフェルミン錠剤", "錠", "内服", "1日3回毎食後", 3, 5.9),
            D("ドンペリドン錠10mg「サワイ」", "錠", "内服", "1日3回毎食前", 3, 6.2),
        ),
        4,
    ),
    "back_pain": (
        "orthopedic",
        "整形外科",
        (
            D("ロキソプロフェンNa錠60mg「サワイ」", "錠", "内服", "1日3回毎食後", 3, 10.1),
            D("レバミピド錠100mg「サワイ」", "錠", "内服", "1日3回毎食後", 3, 10.1),
            D("ロキソプロフェンNaテープ100mg「ユートク」", "枚", "外用", "1日1回 患部に貼付", 14, 17.1),
        ),
        7,
    ),
    "eczema": (
        "dermatology",
        "皮膚科",
        (
            D("ヘパリン類似物質油性クリーム0.3%「ニプロ」", "g", "外用", "1日2回 患部に塗布", 50, 2.3),
            D(
                "ベタメタゾン酪酸エステルプロピオン酸エステル軟膏0.05%「MYK」",
                "g",
                "外用",
                "1日2回 患部に塗布",
                10,
                15.6,
            ),
        ),
        14,
    ),
}
ACUTE_CHILD: dict[str, tuple[str, str, tuple[Drug, ...], int]] = {
    "cold": (
        "pediatric",
        "小児科",
        (
            D("カルボシステインDS50%「タカタ」", "g", "内服", "1日3回毎食後", 1.2, 6.9),
            D("アンブロキソール塩酸塩DS小児用1.5%「タカタ」", "g", "内服", "1日3回毎食後", 0.9, 21.3),
            D("チペピジンヒベンズ酸塩散10%「ツルハラ」", "g", "内服", "1日3回毎食後", 0.9, 7.2),
        ),
        5,
    ),
    "fever": (
        "pediatric",
        "小児科",
        (
            D(
                "アセトアミノフェン細粒20%「タツミ」",
                "g",
                "頓服",
                "発熱時 1回1包（6時間以上あけて）",
                1.5,
                7.5,
            ),
        ),
        3,
    ),
    "cough": (
        "pediatric",
        "小児科",
        (
            D("ツロブテロールテープ1mg「サワイ」", "枚", "外用", "1日1回 胸または背中に貼付", 7, 20.4),
            D("カルボシステインDS50%「タカタ」", "g", "内服", "1日3回毎食後", 1.2, 6.9),
        ),
        7,
    ),
    "otitis": (
        "ent",
        "耳鼻咽喉科",
        (
            D("アモキシシリン細粒10%「TCK」", "g", "内服", "1日3回毎食後", 3.0, 10.2),
            D("ビオフェルミンR散", "g", "内服", "1日3回毎食後", 1.5, 6.3),
        ),
        5,
    ),
    "gastro": (
        "pediatric",
        "小児科",
        (
            D("ビオフェルミンR散", "g", "内服", "1日3回毎食後", 1.5, 6.3),
            D("ドンペリドンDS1%「サワイ」", "g", "内服", "1日3回毎食前", 0.9, 8.1),
        ),
        3,
    ),
    "influenza": (
        "pediatric",
        "小児科",
        (
            D("オセルタミビルDS3%「サワイ」", "g", "内服", "1日2回朝夕食後", 2.4, 88.4),
            D(
                "アセトアミノフェン細粒20%「タツミ」",
                "g",
                "頓服",
                "発熱時 1回1包（6時間以上あけて）",
                1.5,
                7.5,
            ),
        ),
        5,
    ),
    "allergy": (
        "pediatric",
        "小児科",
        (
            D("モンテルカストチュアブル錠5mg「KM」", "錠", "内服", "1日1回就寝前", 1, 35.1),
            D("レボセチリジン塩酸塩シロップ0.05%「TCK」", "mL", "内服", "1日2回朝食後及び就寝前", 10, 12.9),
        ),
        14,
    ),
}
_PHARMACY_BRANDS = (
    "みどり薬局",
    "あおば薬局",
    "ひまわり調剤薬局",
    "つばめ薬局",
    "さくらんぼ薬局",
    "こもれび薬局",
)


@dataclass(frozen=True)
class Facilities:
    """The clinics a resident uses: named after the town, so neighbours share them."""

    town: str
    city: str
    seed: int

    def clinic(self, role: str) -> str:
        return {
            "internal": f"{self.town}内科クリニック",
            "pediatric": f"{self.town}こどもクリニック",
            "orthopedic": f"{self.town}整形外科",
            "ent": f"{self.town}耳鼻咽喉科",
            "dermatology": f"{self.town}皮フ科クリニック",
            "psychosomatic": f"{self.town}心療内科クリニック",
            "urology": f"{self.town}泌尿器科クリニック",
            "dialysis": f"{self.town}腎クリニック",
            "dental": f"{self.town}歯科医院",
            "hospital": f"{self.city}中央病院",
        }[role]

    def pharmacy(self, clinic: str) -> str:
        brand = random.Random(f"{self.seed}|pharmacy|{clinic}").choice(_PHARMACY_BRANDS)
        return f"{brand} {self.town}店"


def facilities_for(resident: Resident, world: AgencyWorld) -> Facilities:
    place = municipality(resident.municipality, resident.address)
    return Facilities(
        town=town_of(resident.address, place), city=city_of(place).removesuffix("市"), seed=world.seed
    )


def dialysis_clinic(resident: Resident) -> str:
    place = municipality(resident.municipality, resident.address)
    return f"{town_of(resident.address, place)}腎クリニック"


@dataclass(frozen=True)
class Condition:
    key: str
    since: date  # diagnosed and treated from this day
    drugs: tuple[Drug, ...]


@dataclass(frozen=True)
class Visit:
    day: date
    facility: str
    department: str
    kind: VisitKind
    days: int  # days counted (a hospital stay's length)
    fee_yen: int  # the clinic's or hospital's side (医療費), before any co-payment
    prescription: tuple[tuple[Drug, int], ...] = ()  # (medicine, days or times) dispensed at a pharmacy
    pharmacy: str | None = None
    dispensing_fee_yen: int = 0  # the pharmacy's side, medicines included
    condition_keys: tuple[str, ...] = field(default_factory=tuple)


@dataclass(frozen=True)
class Story:
    conditions: tuple[Condition, ...]
    visits: tuple[Visit, ...]
    window_start: date
    window_end: date

    def treated_on(self, key: str, day: date) -> bool:
        return any(c.key == key and c.since <= day for c in self.conditions)


def window(today: date) -> tuple[date, date]:
    end = month_end(add_months(month_start(today), -2))
    return add_months(month_start(end), -(WINDOW_MONTHS - 1)), end


def _chronic(life: Life, world: AgencyWorld, age: int) -> list[str]:
    rng = life_rng(world.seed, life.key, "conditions")
    male = life.sex == "1"
    odds: dict[str, float]
    if life.stage == "child":
        return ["rhinitis"] if rng.random() < 0.3 else []
    band = 0 if age < 40 else 1 if age < 55 else 2 if age < 65 else 3
    odds = {
        "hypertension": (0.04, 0.18, 0.35, 0.65)[band],
        "dyslipidemia": (0.04, 0.18, 0.3, 0.45)[band],
        "diabetes": (0.02, 0.07, 0.12, 0.2)[band],
        "hyperuricemia": (0.05, 0.12, 0.15, 0.15)[band] if male else 0.0,
        "gerd": (0.05, 0.08, 0.1, 0.25)[band],
        "insomnia": (0.05, 0.08, 0.08, 0.2)[band],
        "rhinitis": (0.3, 0.25, 0.2, 0.05)[band],
        "asthma": 0.05,
    }
    if band == 3:
        odds |= {
            "osteoarthritis": 0.5,
            "constipation": 0.5,
            "bph": 0.6 if male else 0.0,
            "osteoporosis": 0.0 if male else 0.6,
            "afib": 0.15,
        }
    chosen = [key for key, p in odds.items() if rng.random() < p]
    if band == 3:
        # The elderly take more medicines: at least four conditions, the commonest first.
        for key in ("hypertension", "constipation", "osteoarthritis", "dyslipidemia", "gerd", "insomnia"):
            if len(chosen) >= 4:
                break
            if key not in chosen:
                chosen.append(key)
    if life.disability is not None:
        chosen = [k for k in chosen if k != "hypertension"] + ["dialysis"]
    return chosen


def _since(rng: random.Random, life: Life, key: str, window_start: date, today: date) -> date:
    """When treatment began: mostly long ago, sometimes within the window (the checkups show the change)."""
    if key == "dialysis" and life.disability is not None:
        return life.disability.dialysis_since
    earliest = max(add_years(life.birth_date, 30 if life.stage != "child" else 3), date(2005, 4, 1))
    if rng.random() < 0.35 and window_start < today - timedelta(days=240):
        return random_date(rng, max(earliest, window_start + timedelta(days=90)), today - timedelta(days=240))
    return random_date(rng, earliest, max(earliest, window_start - timedelta(days=30)))


def _dispensing_fee(items: tuple[tuple[Drug, int], ...]) -> int:
    """調剤報酬: basic and handling fees plus the medicines themselves (薬価 × quantity)."""
    medicines = 0.0
    for drug, days in items:
        if drug.route == "外用":
            medicines += drug.amount * drug.price_yen
        else:
            medicines += drug.amount * days * drug.price_yen
    handling = 450 + 240 * min(len(items), 3) + (600 if max((d for _, d in items), default=0) >= 28 else 200)
    return int((1_200 + handling + medicines) // 10 * 10)


def story_of(resident: Resident, world: AgencyWorld) -> Story:
    life = life_of(resident, world)
    return _story(resident, world, life, care_level(life, world))


@lru_cache(maxsize=512)
def _story(resident: Resident, world: AgencyWorld, life: Life, level: str | None) -> Story:
    start, end = window(world.today)
    places = facilities_for(resident, world)
    age = life.age_on(world.today)
    conditions: list[Condition] = []
    keys = _chronic(life, world, age)
    if level is not None and level != "要支援1" and "dementia" not in keys:
        keys.append("dementia")  # the certified elderly father takes a dementia medicine
    for key in keys:
        rng = life_rng(world.seed, life.key, "condition", key)
        catalogue = (
            CHILD_CHRONIC_DRUGS if life.stage == "child" and key in CHILD_CHRONIC_DRUGS else CHRONIC_DRUGS
        )
        drugs = rng.choice(catalogue[key])
        since = _since(rng, life, key, start, world.today)
        if key == "dementia":
            since = min(since, world.today - timedelta(days=400))
        conditions.append(Condition(key, since, drugs))

    visits: list[Visit] = []
    # Chronic care: one clinic visit per interval, prescribing all that clinic's medicines at once.
    by_clinic: dict[str, list[Condition]] = {}
    for c in conditions:
        by_clinic.setdefault(CONDITIONS[c.key][0], []).append(c)
    for clinic, treated in by_clinic.items():
        rng = life_rng(world.seed, life.key, "visits", clinic)
        interval = min(CONDITIONS[c.key][2] for c in treated)
        department = CONDITIONS[treated[0].key][1]
        facility = places.clinic(clinic)
        day = weekday_on_or_after(start + timedelta(days=rng.randint(0, interval - 1)))
        count = 0
        while day <= end:
            if clinic == "dialysis":
                day = _session_day(day)  # prescribed at a dialysis session
                if day > end:
                    break
            active = [
                c
                for c in treated
                if c.since <= day and (c.key not in SEASONAL or day.month in SEASONAL[c.key])
            ]
            if active:
                count += 1
                items = tuple((drug, interval) for c in active for drug in c.drugs)
                if clinic == "dialysis":
                    fee = 0  # billed monthly below, with the sessions
                else:
                    fee = 4_120 + (2_800 if count % 3 == 1 else 0) + rng.randrange(0, 60) * 10
                visits.append(
                    Visit(
                        day=day,
                        facility=facility,
                        department=department,
                        kind="外来",
                        days=1,
                        fee_yen=fee,
                        prescription=items,
                        pharmacy=places.pharmacy(facility),
                        dispensing_fee_yen=_dispensing_fee(items),
                        condition_keys=tuple(c.key for c in active),
                    )
                )
            day = weekday_on_or_after(day + timedelta(days=interval + rng.randint(-3, 3)))
    if any(c.key == "dialysis" for c in conditions):
        visits += _dialysis_sessions(life, world, places, start, end)

    visits += _acute(life, world, places, start, end)
    visits += _dental(life, world, places, start, end)
    stay = _hospital_stay(life, world, places, start, end)
    if stay is not None:
        visits.append(stay)
    return Story(tuple(conditions), tuple(_merged(visits)), start, end)


def _merged(visits: list[Visit]) -> list[Visit]:
    """One visit per clinic and day: a cold seen on the day of a regular check is the same visit."""
    by_key: dict[tuple[date, str], Visit] = {}
    for v in sorted(visits, key=lambda v: (v.day, v.facility, v.kind)):
        key = (v.day, v.facility)
        if key not in by_key:
            by_key[key] = v
            continue
        first = by_key[key]
        items = first.prescription + v.prescription
        by_key[key] = Visit(
            day=first.day,
            facility=first.facility,
            department=first.department,
            kind=first.kind,
            days=max(first.days, v.days),
            fee_yen=first.fee_yen + v.fee_yen // 2,  # the second complaint adds tests, not a second visit
            prescription=items,
            pharmacy=first.pharmacy or v.pharmacy,
            dispensing_fee_yen=_dispensing_fee(items) if items else 0,
            condition_keys=first.condition_keys + v.condition_keys,
        )
    return list(by_key.values())


def _session_day(day: date) -> date:
    while day.weekday() not in (0, 2, 4):
        day += timedelta(days=1)
    return day


def _dialysis_sessions(
    life: Life, world: AgencyWorld, places: Facilities, start: date, end: date
) -> list[Visit]:
    """Three sessions a week (Monday, Wednesday, Friday), each a day of the month's claim."""
    rng = life_rng(world.seed, life.key, "dialysis-fees")
    facility = places.clinic("dialysis")
    out: list[Visit] = []
    day = max(start, life.disability.dialysis_since if life.disability else start)
    while day <= end:
        if day.weekday() in (0, 2, 4):
            out.append(Visit(day, facility, "腎臓内科", "外来", 1, 29_000 + rng.randrange(0, 300) * 10))
        day += timedelta(days=1)
    return out


def _acute(life: Life, world: AgencyWorld, places: Facilities, start: date, end: date) -> list[Visit]:
    child = life.stage == "child"
    catalogue = ACUTE_CHILD if child else ACUTE_ADULT
    out: list[Visit] = []
    year_start = start
    while year_start <= end:
        rng = life_rng(world.seed, life.key, "acute", year_start.year)
        episodes = rng.randint(3, 6) if child else rng.choice((0, 1, 1, 2, 2, 3))
        for _ in range(episodes):
            if child:
                key = rng.choice(
                    ("cold", "cold", "cold", "fever", "cough", "otitis", "gastro", "influenza", "allergy")
                )
            else:
                key = rng.choice(("cold", "cold", "influenza", "gastro", "back_pain", "eczema"))
            clinic, department, drugs, days = catalogue[key]
            if key == "influenza":
                month = rng.choice((12, 1, 2))
                year = year_start.year + (1 if month < 4 else 0)
                day = weekday_on_or_after(date(year, month, rng.randint(1, 28)))
            else:
                day = weekday_on_or_after(
                    random_date(rng, year_start, add_years(year_start, 1) - timedelta(days=1))
                )
            if not start <= day <= end:
                continue
            facility = places.clinic(clinic)
            items = tuple((drug, days) for drug in drugs)
            first_fee = (6_300 if child else 4_200) + rng.randrange(0, 180) * 10
            out.append(
                Visit(
                    day=day,
                    facility=facility,
                    department=department,
                    kind="外来",
                    days=1,
                    fee_yen=first_fee,
                    prescription=items,
                    pharmacy=places.pharmacy(facility),
                    dispensing_fee_yen=_dispensing_fee(items),
                    condition_keys=(key,),
                )
            )
            if rng.random() < 0.4:  # a check a few days later, without medicines
                again = weekday_on_or_after(day + timedelta(days=rng.randint(3, 6)))
                if again <= end:
                    out.append(
                        Visit(again, facility, department, "外来", 1, 1_900 + rng.randrange(0, 60) * 10)
                    )
        year_start = add_years(year_start, 1)
    return out


def _dental(life: Life, world: AgencyWorld, places: Facilities, start: date, end: date) -> list[Visit]:
    out: list[Visit] = []
    facility = places.clinic("dental")
    year_start = start
    while year_start <= end:
        rng = life_rng(world.seed, life.key, "dental", year_start.year)
        for _ in range(rng.choice((0, 1, 1, 2))):
            day = weekday_on_or_after(
                random_date(rng, year_start, add_years(year_start, 1) - timedelta(days=1))
            )
            for _ in range(rng.randint(1, 4)):
                if start <= day <= end:
                    out.append(Visit(day, facility, "歯科", "歯科", 1, 2_400 + rng.randrange(0, 600) * 10))
                day = weekday_on_or_after(day + timedelta(days=rng.randint(6, 9)))
        year_start = add_years(year_start, 1)
    return out


def _hospital_stay(
    life: Life, world: AgencyWorld, places: Facilities, start: date, end: date
) -> Visit | None:
    rng = life_rng(world.seed, life.key, "hospital")
    elderly = life.age_on(world.today) >= 75
    if rng.random() >= (0.7 if elderly else 0.08):
        return None
    admitted = weekday_on_or_after(random_date(rng, start, end - timedelta(days=20)))
    days = rng.randint(8, 14) if elderly else rng.randint(3, 6)
    department = "内科" if elderly else "外科"
    return Visit(
        admitted,
        places.clinic("hospital"),
        department,
        "入院",
        days,
        days * rng.randrange(42_000, 58_000, 100),
    )


__all__ = ["Story", "Visit", "dialysis_clinic", "facilities_for", "story_of", "window"]
