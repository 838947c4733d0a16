"""Every self-information category, served by its own agency, for the right people, telling one story."""

from __future__ import annotations

from collections import Counter
from datetime import date

import pytest

from simulators.agency.categories.lives import check_digit

from .conftest import (
    AGENCIES,
    CODE_AGENCIES,
    PERSON_IDS,
    SERVED_BY,
    TODAY,
    Fetch,
    SharedWorld,
    code_for,
    person,
)

ADULTS = [p for p in PERSON_IDS if p != "sato-haruto"]
WORKING_AGE = ["yamada-hanako", "tanaka-yuki", "smith-john", "suzuki-ichiro", "takahashi-ken"]


def _age(person_id: str, on: date = TODAY) -> int:
    born = date.fromisoformat(person(person_id)["birth_date"])
    return on.year - born.year - int((on.month, on.day) < (born.month, born.day))


def _requesters(shared: SharedWorld, person_id: str) -> set[str]:
    code = code_for(person_id, "info-network")
    response = shared.client.get(
        f"/agencies/info-network/v1/residents/{code}/provision-records",
        headers=shared.headers("info-network"),
    )
    assert response.status_code == 200, response.text
    return {r["requester"]["id"] for r in response.json()["records"]}


# --- Served by its own agency, for everyone ---------------------------------------------------------------


def test_every_category_of_every_agency_is_generated() -> None:
    from simulators.agency.categories import GENERATORS

    listed = {c for a in AGENCIES for c in a["categories"] if c != "provision_records"}
    assert listed == set(GENERATORS) and len(listed) == 12


@pytest.mark.parametrize("category", sorted(SERVED_BY))
@pytest.mark.parametrize("person_id", PERSON_IDS)
def test_category_served_by_its_agency_for_everyone(
    shared: SharedWorld, category: str, person_id: str
) -> None:
    body = shared.envelope(person_id, category)
    agency_id = SERVED_BY[category]
    assert body["agency_id"] == agency_id and body["category"] == category
    assert body["agency_code"] == code_for(person_id, agency_id)
    mislink = person(person_id).get("mislink")
    who = mislink if mislink and mislink["agency"] == agency_id else person(person_id)
    assert body["subject"] == {k: who[k] for k in ("name", "name_kana", "birth_date")}
    assert isinstance(body["data"], dict) and body["data"]


@pytest.mark.parametrize("category", sorted(SERVED_BY))
def test_no_other_agency_serves_the_category(shared: SharedWorld, category: str) -> None:
    for agency in CODE_AGENCIES:
        if agency["id"] == SERVED_BY[category]:
            continue
        code = code_for("yamada-hanako", agency["id"])
        url = f"/agencies/{agency['id']}/v1/residents/{code}/self-information/{category}"
        response = shared.client.get(url, headers=shared.headers(agency["id"]))
        assert response.status_code == 404, (agency["id"], category)
        assert response.json()["error"] == "category_not_served"


# --- income_tax -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("person_id", ADULTS)
def test_tax_years_add_up(fetch: Fetch, person_id: str) -> None:
    data = fetch(person_id, "income_tax")
    years = data["years"]
    assert [y["fiscal_year"] for y in years] == [2026, 2025, 2024, 2023, 2022]  # newest first, five years
    for y in years:
        assert y["income_year"] == y["fiscal_year"] - 1
        assert y["fiscal_year_label"] == f"令和{y['fiscal_year'] - 2018}年度"
        assert y["total_income_yen"] == sum(i["income_yen"] for i in y["incomes"])
        assert all(i["income_yen"] <= i["revenue_yen"] for i in y["incomes"])
        assert y["total_deductions_yen"] == sum(d["amount_yen"] for d in y["deductions"])
        assert (
            y["taxable_income_yen"]
            == max(0, y["total_income_yen"] - y["total_deductions_yen"]) // 1000 * 1000
        )
        assert y["income_levy_yen"] == sum(levy["income_levy_yen"] for levy in y["levies"])
        assert y["per_capita_levy_yen"] == sum(levy["per_capita_levy_yen"] for levy in y["levies"])
        assert y["annual_tax_yen"] == y["income_levy_yen"] + y["per_capita_levy_yen"]
        assert ("森林環境税" in {levy["name"] for levy in y["levies"]}) == (y["fiscal_year"] >= 2024)
        if y["status"] == "非課税":
            assert y["annual_tax_yen"] == 0 and y["collection"] is None
        if y["status"] == "課税":
            assert y["per_capita_levy_yen"] == 5_000 and y["collection"] is not None
        if y["fiscal_year"] == 2024 and y["status"] == "課税":
            assert "定額減税" in {c["name"] for c in y["credits"]}


def test_the_child_has_no_tax_record(fetch: Fetch) -> None:
    data = fetch("sato-haruto", "income_tax")
    assert data["years"] == [] and data["municipality"]["name"] == "横浜市中区"


def test_tax_rates_and_deductions_follow_the_place_and_the_household(fetch: Fetch) -> None:
    yokohama = fetch("sato-misaki", "income_tax")["years"][0]
    assert [(levy["name"], levy["rate_percent"]) for levy in yokohama["levies"][:2]] == [
        ("市民税", 8.0),
        ("県民税", 2.0),
    ]  # a designated city's split
    assert "ひとり親控除" in {d["name"] for d in yokohama["deductions"]} and yokohama["dependents"] == 1
    tokyo = fetch("yamada-hanako", "income_tax")["years"][0]
    assert [levy["name"] for levy in tokyo["levies"][:2]] == ["特別区民税", "都民税"]
    elderly = fetch("tanaka-kazuo", "income_tax")["years"][0]
    assert [i["kind"] for i in elderly["incomes"]] == ["公的年金等に係る雑所得"]
    assert elderly["collection"] == "特別徴収（年金から差引き）"


# --- pension ----------------------------------------------------------------------------------------------


def test_elderly_father_receives_his_pension(fetch: Fetch) -> None:
    data = fetch("tanaka-kazuo", "pension")
    assert data["status"] == "受給中" and data["estimate"] is None
    assert {b["name"] for b in data["benefits"]} == {"老齢基礎年金", "老齢厚生年金"}
    assert len(data["payments"]) == 6
    for p in data["payments"]:
        assert date.fromisoformat(p["paid_on"]).month % 2 == 0 and date.fromisoformat(p["paid_on"]) < TODAY
        withheld = (
            p["care_premium_yen"] + p["medical_premium_yen"] + p["income_tax_yen"] + p["resident_tax_yen"]
        )
        assert p["net_yen"] == p["gross_yen"] - withheld
    assert sum(b["annual_yen"] for b in data["benefits"]) // 6 == data["payments"][0]["gross_yen"]


@pytest.mark.parametrize("person_id", [*WORKING_AGE, "sato-misaki"])
def test_working_adults_are_enrolled_with_an_estimate(fetch: Fetch, person_id: str) -> None:
    data = fetch(person_id, "pension")
    assert data["status"] == "加入中" and data["benefits"] == [] and data["payments"] == []
    estimate = data["estimate"]
    assert estimate["total_yen"] == estimate["basic_yen"] + estimate["employees_yen"] > 0
    months = Counter(m["status"] for y in data["contributions"] for m in y["months"])
    totals = data["totals"]
    assert months["厚生年金"] == totals["employee_months"] and months["納付済"] == totals["paid_months"]
    assert sum(months.values()) == totals["qualifying_months"]
    assert (
        sum(e["months"] for e in data["enrolment"])
        == totals["qualifying_months"] - totals["counted_only_months"]
    )
    assert data["enrolment"][-1]["to_month"] is None  # still enrolled
    for e in data["enrolment"]:
        assert (e["employer"] is not None) == (e["system"] == "厚生年金保険")


def test_the_child_is_not_enrolled(fetch: Fetch) -> None:
    data = fetch("sato-haruto", "pension")
    assert data["status"] == "未加入" and data["basic_pension_number"] is None
    assert data["enrolment"] == data["contributions"] == data["benefits"] == []


# --- health_insurance -------------------------------------------------------------------------------------


def _valid_insurer_number(number: str) -> bool:
    return check_digit(number[:-1]) == number[-1]


@pytest.mark.parametrize("person_id", PERSON_IDS)
def test_everyone_is_insured_today(fetch: Fetch, person_id: str) -> None:
    data = fetch(person_id, "health_insurance")
    current = data["current"]
    assert current is not None and current["lost_on"] is None
    for q in [current, *data["history"]]:
        assert _valid_insurer_number(q["insurer_number"])
        assert q["lost_on"] is None or q["acquired_on"] < q["lost_on"]
    acquired = [q["acquired_on"] for q in [current, *data["history"]]]
    assert acquired == sorted(acquired, reverse=True)


def test_the_son_is_insured_as_his_mothers_family(fetch: Fetch) -> None:
    son = fetch("sato-haruto", "health_insurance")["current"]
    mother = fetch("sato-misaki", "health_insurance")["current"]
    assert son["insured_type"] == "家族" and son["branch"] == "01"
    assert son["policyholder"] == {"name": "佐藤 美咲", "name_kana": "サトウ ミサキ"}
    assert (son["insurer_number"], son["symbol"], son["number"]) == (
        mother["insurer_number"],
        mother["symbol"],
        mother["number"],
    )
    assert mother["insured_type"] == "本人" and mother["branch"] == "00"
    assert son["copayment_percent"] == 30  # school age


def test_the_elderly_father_is_in_the_late_stage_system(fetch: Fetch) -> None:
    current = fetch("tanaka-kazuo", "health_insurance")["current"]
    assert current["insurer_kind"] == "後期高齢者医療"
    assert current["insurer_name"] == "大阪府後期高齢者医療広域連合"
    assert current["acquired_on"] == "2017-01-20"  # his 75th birthday
    assert current["symbol"] is None and current["copayment_percent"] in (10, 20)


# --- vaccination ------------------------------------------------------------------------------------------


def test_the_child_had_the_routine_schedule(fetch: Fetch) -> None:
    data = fetch("sato-haruto", "vaccination")
    records = data["records"]
    doses = Counter(r["disease"] for r in records if r["kind"] == "定期接種（A類）")
    assert doses["麻しん・風しん"] == 2 and doses["結核"] == 1 and doses["水痘"] == 2
    assert doses["ジフテリア・百日せき・破傷風・急性灰白髄炎"] == 4 and doses["日本脳炎"] == 4
    assert doses["ヒブ感染症"] == 4 and doses["小児の肺炎球菌感染症"] == 4
    born = date.fromisoformat("2016-09-03")
    days = [date.fromisoformat(r["vaccinated_on"]) for r in records]
    assert days == sorted(days) and all(born < d < TODAY for d in days)
    assert all(r["place"].endswith("こどもクリニック") for r in records)
    assert {(d["disease"], d["dose"]) for d in data["upcoming"]} == {("ジフテリア・破傷風", "2期")}


@pytest.mark.parametrize("person_id", ADULTS)
def test_adults_have_covid_and_no_childhood_schedule(fetch: Fetch, person_id: str) -> None:
    records = fetch(person_id, "vaccination")["records"]
    diseases = {r["disease"] for r in records}
    assert "結核" not in diseases and "ヒブ感染症" not in diseases
    covid = [r for r in records if r["disease"] == "新型コロナウイルス感染症"]
    assert all(date(2021, 1, 1) < date.fromisoformat(r["vaccinated_on"]) < TODAY for r in covid)


def test_the_elderly_get_routine_influenza(fetch: Fetch) -> None:
    records = fetch("tanaka-kazuo", "vaccination")["records"]
    assert any(r["disease"] == "インフルエンザ" and r["kind"] == "定期接種（B類）" for r in records)
    assert all(r["municipality"] == "大阪市" for r in records)


# --- child_allowance --------------------------------------------------------------------------------------


def test_single_parent_gets_both_allowances(fetch: Fetch) -> None:
    programs = [r["program"] for r in fetch("sato-misaki", "child_allowance")["records"]]
    assert programs == ["児童扶養手当", "児童手当"]


# --- long_term_care ---------------------------------------------------------------------------------------


def test_elderly_father_is_certified_as_needing_care(fetch: Fetch) -> None:
    data = fetch("tanaka-kazuo", "long_term_care")
    assert data["insured_category"] == "第1号被保険者" and data["insured_number"]
    assert data["qualified_on"] == "2007-01-19"  # the day before his 65th birthday
    cert = data["certification"]
    assert cert["level"].startswith(("要支援", "要介護"))
    assert cert["valid_from"] <= TODAY.isoformat() <= cert["valid_to"]
    assert cert["benefit_limit_units"] > 0 and data["services"] and data["care_manager_office"]
    assert data["copayment_percent"] in (10, 20, 30)
    assert data["premium"]["annual_yen"] > 0 and data["premium"]["collection"] == "特別徴収（年金から差引き）"
    for earlier in data["certification_history"]:
        assert earlier["valid_to"] < cert["valid_from"]


@pytest.mark.parametrize("person_id", [*ADULTS, "sato-haruto"])
def test_care_insurance_follows_age(fetch: Fetch, person_id: str) -> None:
    data = fetch(person_id, "long_term_care")
    age = _age(person_id)
    expected = "第1号被保険者" if age >= 65 else "第2号被保険者" if age >= 40 else "対象外"
    assert data["insured_category"] == expected
    if age < 65:
        assert data["certification"] is None and data["premium"] is None and data["insured_number"] is None
    if age < 40:
        assert data["insurer"] is None and data["qualified_on"] is None


# --- employment_insurance and disability: the life paths the network shows too ------------------------


def test_the_job_seeker_drew_the_basic_allowance(shared: SharedWorld, fetch: Fetch) -> None:
    claimants = [p for p in PERSON_IDS if fetch(p, "employment_insurance")["benefits"]]
    assert len(claimants) == 1
    (seeker,) = claimants
    assert seeker in WORKING_AGE
    assert "hello-work" in _requesters(shared, seeker)  # the network saw Hello Work asked about her
    data = fetch(seeker, "employment_insurance")
    (allowance,) = data["benefits"]
    assert allowance["reason_class"] == "特定受給資格者" and allowance["restriction_months"] == 0
    assert allowance["days_paid"] == sum(p["days_paid"] for p in allowance["payments"])
    assert allowance["total_paid_yen"] == sum(p["amount_yen"] for p in allowance["payments"])
    assert allowance["days_paid"] <= allowance["prescribed_days"]
    for p in allowance["payments"]:
        assert p["amount_yen"] == p["days_paid"] * allowance["daily_amount_yen"]
        assert allowance["waiting_to"] < p["period_from"] <= p["period_to"] < p["certified_on"]
    lost = [x for x in data["periods"] if x["reason_for_leaving"] and "会社都合" in x["reason_for_leaving"]]
    assert lost and lost[0]["lost_on"] < allowance["decided_on"]
    # The same story at the tax office: a year without salary while she looked for work.
    assert any(y["status"] == "非課税" for y in fetch(seeker, "income_tax")["years"])


def test_the_child_was_never_insured_for_employment(fetch: Fetch) -> None:
    assert fetch("sato-haruto", "employment_insurance") == {
        "insured_number": None,
        "office": None,
        "status": "加入歴なし",
        "periods": [],
        "benefits": [],
    }


def test_one_resident_holds_a_disability_certificate(shared: SharedWorld, fetch: Fetch) -> None:
    holders = [p for p in PERSON_IDS if fetch(p, "disability")["status"] == "holder"]
    assert len(holders) == 1
    (holder,) = holders
    assert "municipal-welfare" in _requesters(shared, holder)  # 更生医療 certified again every year
    data = fetch(holder, "disability")
    (certificate,) = data["certificates"]
    assert certificate["kind"] == "身体障害者手帳" and certificate["grade"] == "1級"
    assert data["medical_support"] and all(
        s["monthly_cap_yen"] in (5_000, 10_000, 20_000) for s in data["medical_support"]
    )
    assert certificate["issued_on"] <= data["medical_support"][-1]["valid_from"]
    # The same story in the claims: three dialysis sessions a week, the co-payment capped.
    dialysis = [
        r
        for r in fetch(holder, "medical_expenses")["records"]
        if r["provider"] == data["medical_support"][0]["provider"]
    ]
    assert dialysis and all(
        r["days"] >= 11 and r["copayment_yen"] <= 10_000 for r in dialysis if r["kind"] == "外来"
    )
    assert any(
        d["name"] == "障害者控除（特別障害者）" for d in fetch(holder, "income_tax")["years"][0]["deductions"]
    )


@pytest.mark.parametrize("person_id", PERSON_IDS)
def test_everyone_else_has_an_explicit_none(fetch: Fetch, person_id: str) -> None:
    data = fetch(person_id, "disability")
    if data["status"] == "none":
        assert data == {"status": "none", "certificates": [], "medical_support": []}


# --- medical_drugs, medical_expenses, medical_checkups ------------------------------------------------------


def _medicines(fetch: Fetch, person_id: str) -> set[str]:
    return {m["name"] for d in fetch(person_id, "medical_drugs")["dispensings"] for m in d["medicines"]}


@pytest.mark.parametrize("person_id", PERSON_IDS)
def test_dispensings_cover_three_years(fetch: Fetch, person_id: str) -> None:
    data = fetch(person_id, "medical_drugs")
    assert (data["period_from"], data["period_to"]) == ("2023-10", "2026-09")
    days = [d["dispensed_on"] for d in data["dispensings"]]
    assert days == sorted(days, reverse=True)
    assert all("2023-10-01" <= day <= "2026-09-30" for day in days)
    for d in data["dispensings"]:
        assert d["medicines"] and d["pharmacy"] and d["prescriber"]
        for m in d["medicines"]:
            assert m["amount"] > 0 and m["days"] >= 1 and m["usage"]


def _long_term_medicines(fetch: Fetch, person_id: str) -> set[str]:
    """Medicines dispensed for four weeks or more, again and again: what the resident takes every day."""
    dispensed = Counter(
        m["name"]
        for d in fetch(person_id, "medical_drugs")["dispensings"]
        for m in d["medicines"]
        if m["days"] >= 28
    )
    return {name for name, times in dispensed.items() if times >= 3}


def test_the_elderly_take_the_most_medicines(fetch: Fetch) -> None:
    counts = {p: len(_long_term_medicines(fetch, p)) for p in PERSON_IDS}
    assert counts["tanaka-kazuo"] >= 4
    assert counts["tanaka-kazuo"] == max(counts.values())
    assert counts["tanaka-kazuo"] > sorted(counts.values())[-2] or counts["tanaka-kazuo"] >= 5


def test_the_child_sees_the_paediatrician(fetch: Fetch) -> None:
    dispensings = fetch("sato-haruto", "medical_drugs")["dispensings"]
    paediatric = [d for d in dispensings if d["department"] == "小児科"]
    assert len(paediatric) >= 5
    assert any(m["unit"] == "g" for d in paediatric for m in d["medicines"])  # granules and dry syrups


@pytest.mark.parametrize("person_id", PERSON_IDS)
def test_expenses_match_the_dispensings(fetch: Fetch, person_id: str) -> None:
    expenses = fetch(person_id, "medical_expenses")
    assert (expenses["period_from"], expenses["period_to"]) == ("2023-10", "2026-09")
    records = expenses["records"]
    assert records and all("2023-10" <= r["service_month"] <= "2026-09" for r in records)
    assert [r["service_month"] for r in records] == sorted(
        (r["service_month"] for r in records), reverse=True
    )
    for r in records:
        assert r["kind"] in {"入院", "外来", "歯科", "調剤"}
        assert 0 < r["copayment_yen"] <= r["total_yen"] * 0.3 + 10
    pharmacy_months = Counter((r["service_month"], r["provider"]) for r in records if r["kind"] == "調剤")
    dispensed = Counter(
        (d["dispensed_on"][:7], d["pharmacy"]) for d in fetch(person_id, "medical_drugs")["dispensings"]
    )
    assert set(dispensed) == set(pharmacy_months)
    for (month, pharmacy), count in dispensed.items():
        line = next(
            r for r in records if (r["service_month"], r["provider"], r["kind"]) == (month, pharmacy, "調剤")
        )
        assert line["days"] == count


def test_co_payment_follows_the_share(fetch: Fetch) -> None:
    def shares(person_id: str) -> set[float]:
        records = fetch(person_id, "medical_expenses")["records"]
        return {
            round(r["copayment_yen"] / r["total_yen"], 1)
            for r in records
            if r["kind"] in ("外来", "調剤") and r["total_yen"] > 1000
        }

    assert shares("yamada-hanako") == {0.3}
    assert shares("tanaka-kazuo") <= {0.1, 0.2}


@pytest.mark.parametrize("person_id", PERSON_IDS)
def test_checkups_from_forty(fetch: Fetch, person_id: str) -> None:
    checkups = fetch(person_id, "medical_checkups")["checkups"]
    if _age(person_id) < 40:
        assert checkups == []
        return
    if _age(person_id) >= 46:
        assert len(checkups) >= 5  # five years and more, to chart
    years = [c["fiscal_year"] for c in checkups]
    assert years == sorted(years, reverse=True) and len(set(years)) == len(years)
    for c in checkups:
        codes = [r["code"] for r in c["results"]]
        assert {
            "height",
            "weight",
            "bmi",
            "systolic_bp",
            "diastolic_bp",
            "hba1c",
            "fasting_glucose",
            "ldl",
            "hdl",
        } <= set(codes)
        assert {"triglycerides", "ast", "alt", "ggt"} <= set(codes)
        assert ("waist" in codes) == (c["program"] == "特定健康診査")
        for r in c["results"]:
            assert r["unit"]
            if r["code"] in ("height", "weight"):
                assert r["reference"] is None and r["flag"] is None
                continue
            ref = r["reference"]
            assert ref["text"] and (ref["lower"] is not None or ref["upper"] is not None)
            low = ref["lower"] is not None and r["value"] < ref["lower"]
            high = ref["upper"] is not None and r["value"] > ref["upper"]
            assert r["flag"] == ("low" if low else "high" if high else "normal")
        if c["program"] == "後期高齢者健康診査":
            assert c["metabolic_syndrome"] is None and c["guidance_level"] is None
        else:
            assert c["metabolic_syndrome"] in ("基準該当", "予備群該当", "非該当")


def test_checkups_know_the_medicines(fetch: Fetch) -> None:
    """A resident on blood-pressure medicine says so in the questionnaire the same year."""
    for person_id in ADULTS:
        names = _medicines(fetch, person_id)
        takes_amlodipine_like = any(
            n.startswith(("アムロジピン", "オルメサルタン", "テルミサルタン", "カンデサルタン"))
            for n in names
        )
        checkups = fetch(person_id, "medical_checkups")["checkups"]
        if checkups and takes_amlodipine_like and fetch(person_id, "disability")["status"] == "none":
            assert checkups[0]["questionnaire"]["blood_pressure_medicine"] is True, person_id
