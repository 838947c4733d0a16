"""``medical_checkups`` (特定健診情報): the resident's yearly health checkup results, from 40.

Served by ``medical-insurance``. One checkup a fiscal year for the last six (特定健康診査 from 40 to 74, 後期
高齢者健康診査 from 75): body measurements, blood pressure, blood sugar, lipids and liver enzymes, each with
its unit and reference range (基準範囲, the 特定健診 guidance thresholds) so that a page can chart the values
by year against the range, plus the questionnaire's medicines, the metabolic syndrome judgement and the
guidance level. Values follow the clinical story: untreated high blood pressure shows, and falls once the
medicine starts. Under 40: no checkups, an empty list.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any, Literal

from pydantic import ConfigDict, Field

from .base import AgencyWorld, Resident, StrictModel, fiscal_year, weekday_on_or_after
from .clinical import BLOOD_PRESSURE, GLUCOSE, LIPIDS, Story, facilities_for, story_of
from .lives import Life, life_of, life_rng

YEARS_SHOWN = 6
CHECKUPS_FROM_AGE = 40

Flag = Literal["normal", "high", "low"]


class ReferenceRange(StrictModel):
    """基準範囲: a value is within it when lower <= value <= upper (a missing bound does not limit)."""

    lower: float | None
    upper: float | None
    text: str = Field(description="The range as printed", examples=["129以下"])


class Result(StrictModel):
    code: str = Field(
        description="Stable item code, the same every year (for charting)", examples=["systolic_bp"]
    )
    name: str = Field(description="検査項目", examples=["収縮期血圧"])
    value: float
    unit: str = Field(examples=["mmHg"])
    reference: ReferenceRange | None = Field(description="null for items without a range (height, weight)")
    flag: Flag | None = Field(description="Against the reference range; null without one")


class Questionnaire(StrictModel):
    blood_pressure_medicine: bool = Field(description="血圧を下げる薬の使用")
    glucose_medicine: bool = Field(description="血糖を下げる薬又はインスリン注射の使用")
    lipid_medicine: bool = Field(description="コレステロールや中性脂肪を下げる薬の使用")
    smoker: bool = Field(description="現在、習慣的に喫煙している")


class Checkup(StrictModel):
    fiscal_year: int
    examined_on: date = Field(description="受診日")
    program: Literal["特定健康診査", "後期高齢者健康診査"]
    facility: str = Field(description="実施機関")
    results: list[Result]
    questionnaire: Questionnaire
    metabolic_syndrome: Literal["基準該当", "予備群該当", "非該当"] | None = Field(
        description="メタボリックシンドローム判定 (特定健康診査 only)"
    )
    guidance_level: Literal["積極的支援", "動機付け支援", "なし", "対象外（服薬中）"] | None = Field(
        description="保健指導レベル (特定健康診査 only)"
    )
    opinion: Literal["異常なし", "要経過観察", "要医療", "治療中"] = Field(description="医師の判断")


class MedicalCheckupsData(StrictModel):
    model_config = ConfigDict(
        title="MedicalCheckupsData",
        json_schema_extra={
            "examples": [
                {
                    "checkups": [
                        {
                            "fiscal_year": 2025,
                            "examined_on": "2025-10-14",
                            "program": "特定健康診査",
                            "facility": "中之島内科クリニック",
                            "results": [
                                {
                                    "code": "systolic_bp",
                                    "name": "収縮期血圧",
                                    "value": 134,
                                    "unit": "mmHg",
                                    "reference": {"lower": None, "upper": 129, "text": "129以下"},
                                    "flag": "high",
                                }
                            ],
                            "questionnaire": {
                                "blood_pressure_medicine": False,
                                "glucose_medicine": False,
                                "lipid_medicine": False,
                                "smoker": False,
                            },
                            "metabolic_syndrome": "予備群該当",
                            "guidance_level": "動機付け支援",
                            "opinion": "要経過観察",
                        }
                    ]
                }
            ]
        },
    )

    checkups: list[Checkup] = Field(description="Newest first; empty under 40")


# code, name, unit, decimals, (lower, upper) for men, (lower, upper) for women
ITEMS: tuple[
    tuple[
        str, str, str, int, tuple[float | None, float | None] | None, tuple[float | None, float | None] | None
    ],
    ...,
] = (
    ("height", "身長", "cm", 1, None, None),
    ("weight", "体重", "kg", 1, None, None),
    ("bmi", "BMI", "kg/m²", 1, (18.5, 24.9), (18.5, 24.9)),
    ("waist", "腹囲", "cm", 1, (None, 84.9), (None, 89.9)),
    ("systolic_bp", "収縮期血圧", "mmHg", 0, (None, 129), (None, 129)),
    ("diastolic_bp", "拡張期血圧", "mmHg", 0, (None, 84), (None, 84)),
    ("hba1c", "HbA1c（NGSP値）", "%", 1, (None, 5.5), (None, 5.5)),
    ("fasting_glucose", "空腹時血糖", "mg/dL", 0, (None, 99), (None, 99)),
    ("ldl", "LDLコレステロール", "mg/dL", 0, (60, 119), (60, 119)),
    ("hdl", "HDLコレステロール", "mg/dL", 0, (40, None), (40, None)),
    ("triglycerides", "中性脂肪（空腹時）", "mg/dL", 0, (30, 149), (30, 149)),
    ("ast", "AST（GOT）", "U/L", 0, (None, 30), (None, 30)),
    ("alt", "ALT（GPT）", "U/L", 0, (None, 30), (None, 30)),
    ("ggt", "γ-GT（γ-GTP）", "U/L", 0, (None, 50), (None, 50)),
)


def _range_text(lower: float | None, upper: float | None, decimals: int) -> str:
    def fmt(x: float) -> str:
        return f"{x:.{decimals}f}" if decimals else f"{x:.0f}"

    if lower is not None and upper is not None:
        return f"{fmt(lower)}～{fmt(upper)}"
    if upper is not None:
        return f"{fmt(upper)}以下"
    assert lower is not None
    return f"{fmt(lower)}以上"


def _values(life: Life, story: Story, day: date, seed: int) -> dict[str, float]:
    """The person's measurements on ``day``: a stable baseline, a slow drift, the conditions and noise."""
    base = life_rng(seed, life.key, "checkup-baseline")
    noise = life_rng(seed, life.key, "checkup", day)
    male = life.sex == "1"
    age = life.age_on(day)
    height = (base.uniform(162, 178) if male else base.uniform(150, 164)) - max(0, age - 70) * 0.15
    bmi = (
        base.uniform(20.0, 26.5) + (fiscal_year(day) - 2020) * base.uniform(-0.15, 0.25) + noise.gauss(0, 0.3)
    )
    weight = bmi * (height / 100) ** 2
    waist = (bmi * 2.9 + 14 if male else bmi * 3.0 + 10) + noise.gauss(0, 1.5)

    def treated(key: str) -> bool:
        return story.treated_on(key, day)

    def has(key: str) -> bool:
        return any(c.key == key for c in story.conditions)

    def effect(key: str, untreated: float, on_medicine: float) -> float:
        if not has(key):
            return 0.0
        return on_medicine if treated(key) else untreated

    systolic = (
        base.uniform(108, 124)
        + min(max(0, age - 40), 30) * 0.4
        + effect(BLOOD_PRESSURE, 22, 6)
        + noise.gauss(0, 5)
    )
    diastolic = systolic * 0.6 + base.uniform(-3, 6) + noise.gauss(0, 3)
    hba1c = base.uniform(5.0, 5.5) + (bmi - 22) * 0.03 + effect(GLUCOSE, 1.8, 0.9) + noise.gauss(0, 0.1)
    glucose = 19 * hba1c - 8 + noise.gauss(0, 4)  # fasting glucose runs below the average HbA1c implies
    ldl = (
        base.uniform(92, 128)
        + (12 if not male and age >= 50 else 0)
        + effect(LIPIDS, 45, -12)
        + noise.gauss(0, 8)
    )
    hdl = (
        (base.uniform(56, 74) if not male else base.uniform(44, 60))
        - (bmi - 22) * 1.2
        - (5 if life.smoker else 0)
    )
    triglycerides = base.uniform(65, 120) + (bmi - 22) * 9 + (35 if life.drinker else 0) + noise.gauss(0, 18)
    ast = base.uniform(16, 23) + (5 if life.drinker else 0) + noise.gauss(0, 2.5)
    alt = base.uniform(11, 22) + max(0, bmi - 22) * 2.2 + noise.gauss(0, 3)
    ggt = (
        (base.uniform(20, 38) if male else base.uniform(13, 24))
        + (40 if life.drinker else 0)
        + noise.gauss(0, 5)
    )
    return {
        "height": height,
        "weight": weight,
        "bmi": weight / (height / 100) ** 2,
        "waist": waist,
        "systolic_bp": systolic,
        "diastolic_bp": diastolic,
        "hba1c": hba1c,
        "fasting_glucose": glucose,
        "ldl": ldl,
        "hdl": hdl + noise.gauss(0, 3),
        "triglycerides": max(35.0, triglycerides),
        "ast": max(10.0, ast),
        "alt": max(7.0, alt),
        "ggt": max(9.0, ggt),
    }


def _judge(v: dict[str, float], male: bool, q: Questionnaire, age: int) -> tuple[str, str]:
    """メタボリックシンドローム判定 and 保健指導レベル (階層化), in outline."""
    waist_high = v["waist"] >= (85 if male else 90)
    glucose = v["fasting_glucose"] >= 110 or v["hba1c"] >= 6.0 or q.glucose_medicine
    lipid = v["triglycerides"] >= 150 or v["hdl"] < 40 or q.lipid_medicine
    pressure = v["systolic_bp"] >= 130 or v["diastolic_bp"] >= 85 or q.blood_pressure_medicine
    risks = sum((glucose, lipid, pressure))
    syndrome = (
        "基準該当" if waist_high and risks >= 2 else "予備群該当" if waist_high and risks == 1 else "非該当"
    )

    if q.blood_pressure_medicine or q.glucose_medicine or q.lipid_medicine:
        return syndrome, "対象外（服薬中）"
    guidance_risks = sum(
        (
            v["fasting_glucose"] >= 100 or v["hba1c"] >= 5.6,
            v["triglycerides"] >= 150 or v["hdl"] < 40,
            v["systolic_bp"] >= 130 or v["diastolic_bp"] >= 85,
        )
    )
    if guidance_risks and q.smoker:
        guidance_risks += 1
    if waist_high:
        level = "積極的支援" if guidance_risks >= 2 else "動機付け支援" if guidance_risks == 1 else "なし"
    elif v["bmi"] >= 25:
        level = "積極的支援" if guidance_risks >= 3 else "動機付け支援" if guidance_risks >= 1 else "なし"
    else:
        level = "なし"
    if level == "積極的支援" and age >= 65:
        level = "動機付け支援"  # 65 to 74: motivational support only
    return syndrome, level


def generate(resident: Resident, world: AgencyWorld) -> dict[str, Any]:
    life = life_of(resident, world)
    story = story_of(resident, world)
    male = life.sex == "1"
    facility = facilities_for(resident, world).clinic("internal")
    rng = life_rng(world.seed, life.key, "checkup-dates")
    month = rng.choice((5, 6, 7, 9, 10, 11))
    checkups: list[Checkup] = []
    current = fiscal_year(world.today)
    for fy in range(current, current - YEARS_SHOWN, -1):
        day = weekday_on_or_after(date(fy, month, 1) + timedelta(days=rng.randint(0, 25)))
        age = life.age_on(date(fy + 1, 3, 31))
        if day >= world.today - timedelta(days=30) or age < CHECKUPS_FROM_AGE:
            continue  # not yet done (or not yet reported), or too young
        elderly = age >= 75
        values = _values(life, story, day, world.seed)
        results = []
        for code, name, unit, decimals, men, women in ITEMS:
            if code == "waist" and elderly:
                continue  # not measured in the checkup for those of 75 and over
            value = round(values[code], decimals) if decimals else float(round(values[code]))
            bounds = men if male else women
            reference = None
            flag: Flag | None = None
            if bounds is not None:
                lower, upper = bounds
                reference = ReferenceRange(lower=lower, upper=upper, text=_range_text(lower, upper, decimals))
                flag = (
                    "low"
                    if lower is not None and value < lower
                    else "high"
                    if upper is not None and value > upper
                    else "normal"
                )
            results.append(
                Result(code=code, name=name, value=value, unit=unit, reference=reference, flag=flag)
            )
        questionnaire = Questionnaire(
            blood_pressure_medicine=story.treated_on(BLOOD_PRESSURE, day),
            glucose_medicine=story.treated_on(GLUCOSE, day),
            lipid_medicine=story.treated_on(LIPIDS, day),
            smoker=life.smoker,
        )
        syndrome, level = _judge(
            {r.code: r.value for r in results} | {"waist": values["waist"]}, male, questionnaire, age
        )
        on_medicine = (
            questionnaire.blood_pressure_medicine
            or questionnaire.glucose_medicine
            or questionnaire.lipid_medicine
        )
        flagged = [r for r in results if r.flag in ("high", "low")]
        severe = any(
            (r.code == "systolic_bp" and r.value >= 160)
            or (r.code == "hba1c" and r.value >= 6.5)
            or (r.code == "ldl" and r.value >= 180)
            for r in results
        )
        opinion: Literal["異常なし", "要経過観察", "要医療", "治療中"]
        opinion = "治療中" if on_medicine else "要医療" if severe else "要経過観察" if flagged else "異常なし"
        checkups.append(
            Checkup(
                fiscal_year=fy,
                examined_on=day,
                program="後期高齢者健康診査" if elderly else "特定健康診査",
                facility=facility,
                results=results,
                questionnaire=questionnaire,
                metabolic_syndrome=None if elderly else syndrome,  # type: ignore[arg-type]
                guidance_level=None if elderly else level,  # type: ignore[arg-type]
                opinion=opinion,
            )
        )
    return MedicalCheckupsData(checkups=checkups).model_dump(mode="json")
