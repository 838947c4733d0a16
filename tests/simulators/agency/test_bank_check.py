"""口座名義確認: the banks' account-name check (``bank-check``), its demo accounts and control endpoints."""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from simulators.agency.bank import bank_name_key, seed_accounts
from simulators.agency.config import Settings
from simulators.agency.seed import initialise

from .conftest import AGENCIES, PEOPLE, TODAY, AssertionMaker, code_for, person

Auth = Callable[[str], dict[str, str]]
TOKEN = {"X-Control-Token": "demo-control-token"}
BANK = "bank-check"
URL = f"/agencies/{BANK}/v1/account-name-checks"


def account_of(person_id: str, **change: Any) -> dict[str, Any]:
    """A check body for the person's account as their bank holds it, asked in their own kana name."""
    held = person(person_id)["bank_account"]
    body = {k: held[k] for k in ("bank_code", "branch_code", "account_type", "account_number")}
    return {**body, "holder_kana": person(person_id)["name_kana"], **change}


YAMADA = account_of("yamada-hanako")
SMITH_CLOSED = {**account_of("smith-john"), **{"account_number": "6789012"}}


def _check(client: TestClient, auth: Auth, body: Any, key: str | None = "k-1", **headers: str):
    sent = {**auth(BANK), **({"Idempotency-Key": key} if key is not None else {}), **headers}
    return client.post(URL, json=body, headers=sent)


def _result(client: TestClient, auth: Auth, body: dict[str, Any], key: str) -> str:
    response = _check(client, auth, body, key=key)
    assert response.status_code == 200, response.text
    return response.json()["result"]


def _checks(client: TestClient) -> list[dict[str, Any]]:
    response = client.get("/_control/bank-checks", headers=TOKEN)
    assert response.status_code == 200, response.text
    return response.json()["checks"]


# --- The bank's way of comparing names --------------------------------------------------------------------


@pytest.mark.parametrize(
    "written,key",
    [
        ("ﾔﾏﾀﾞ ﾊﾅｺ", "ﾔﾏﾀﾞﾊﾅｺ"),
        ("ヤマダ　ハナコ", "ﾔﾏﾀﾞﾊﾅｺ"),  # full-width katakana, ideographic space
        ("やまだ はなこ", "ﾔﾏﾀﾞﾊﾅｺ"),  # hiragana
        ("スミス・ジョン", "ｽﾐｽｼﾞﾖﾝ"),  # small ョ made large, the middle dot dropped
        ("キャッシュ", "ｷﾔﾂｼﾕ"),
        ("オータ", "ｵﾀ"),  # long-vowel mark dropped
        ("ｵｰﾀ", "ｵﾀ"),
        ("ヴァン", "ｳﾞｱﾝ"),  # voicing marks kept, as separate half-width characters
        ("パク", "ﾊﾟｸ"),
        ("ｶ゛", "ｶﾞ"),  # a stand-alone voicing mark joins its kana
        ("smith john", "SMITHJOHN"),
        ("ＳＭＩＴＨ　ＪＯＨＮ", "SMITHJOHN"),
    ],
)
def test_bank_name_key(written: str, key: str) -> None:
    assert bank_name_key(written) == key


def test_voicing_and_vowels_still_count() -> None:
    assert bank_name_key("スズキ") != bank_name_key("ススキ")
    assert bank_name_key("イチロウ") != bank_name_key("イチロー")  # ウ is a letter, ー is not
    assert bank_name_key("ハナコ") != bank_name_key("バナコ") != bank_name_key("パナコ")


# --- Demo accounts ------------------------------------------------------------------------------------------


def test_every_demo_person_has_an_account_in_their_own_name() -> None:
    for p in PEOPLE:
        held = p["bank_account"]
        assert held["account_type"] in ("ordinary", "current", "savings"), p["id"]
        assert re.fullmatch(r"[0-9]{4}", held["bank_code"]) and re.fullmatch(r"[0-9]{3}", held["branch_code"])
        assert re.fullmatch(r"[0-9]{7}", held["account_number"]), p["id"]
        assert bank_name_key(held["holder_kana"]) == bank_name_key(p["name_kana"]), p["id"]
        assert re.fullmatch(r"[\uff66-\uff9f ]+", held["holder_kana"]), p["id"]  # as banks write it
    assert len(seed_accounts(PEOPLE)) == len(PEOPLE) + 1  # and Smith's closed one


def test_japan_post_passbook_numbers_give_the_branch_and_number() -> None:
    """ゆうちょ: 記号 1XY?0 is branch XY8; 番号 without its last digit is the account number."""
    yucho = [p["bank_account"] for p in PEOPLE if p["bank_account"]["bank_code"] == "9900"]
    assert len(yucho) == 2
    for held in yucho:
        assert held["branch_code"] == held["yucho_symbol"][1:3] + "8"
        assert held["account_number"] == held["yucho_number"][:-1]


def test_bank_check_is_an_agency_that_knows_nobody_by_code(client: TestClient, auth: Auth) -> None:
    (entry,) = [a for a in AGENCIES if a["id"] == BANK]
    assert entry["categories"] == [] and entry["code_secret"].startswith("demo-only-bank-check-")
    response = client.get(
        f"/agencies/{BANK}/v1/residents/{code_for('yamada-hanako', BANK)}", headers=auth(BANK)
    )
    assert response.status_code == 404 and response.json()["error"] == "unknown_code"


# --- Answers ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "person_id,holder_kana",
    [
        ("yamada-hanako", "ヤマダ ハナコ"),  # full-width, the bank holds half-width
        ("yamada-hanako", "ﾔﾏﾀﾞ ﾊﾅｺ"),
        ("yamada-hanako", "やまだ はなこ"),
        ("yamada-hanako", "ヤマダ　ハナコ"),
        ("yamada-hanako", "ヤマダハナコ"),
        ("yamada-hanako", " ヤマダ  ハナコ "),
        ("smith-john", "スミス ジョン"),  # small ョ against the bank's ﾖ
        ("smith-john", "スミス・ジョン"),
        ("suzuki-ichiro", "すずき いちろう"),
        ("tanaka-kazuo", "タナカ カズオ"),  # Japan Post Bank
        ("sato-haruto", "サトウ ハルト"),
    ],
)
def test_match(client: TestClient, auth: Auth, person_id: str, holder_kana: str) -> None:
    response = _check(client, auth, account_of(person_id, holder_kana=holder_kana))
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["result"] == "match"
    assert set(body) == {"check_id", "result", "checked_at"}  # never the name the bank holds
    assert re.fullmatch(r"ANC-[0-9A-F]{16}", body["check_id"])
    assert datetime.fromisoformat(body["checked_at"]).utcoffset() == timedelta(hours=9)
    assert "Idempotent-Replayed" not in response.headers


def test_long_vowels_and_latin_names_match(client: TestClient, auth: Auth) -> None:
    cases = (
        ("7000001", "ｵｰﾀ ﾕｳｺ", "オタ ユウコ"),  # the bank drops the long-vowel mark on both sides
        ("7000001", "ｵｰﾀ ﾕｳｺ", "オ−タ ユウコ"),  # and the dash typed for it
        ("7000002", "SMITH JOHN", "ｓｍｉｔｈ　ｊｏｈｎ"),
        ("7000002", "SMITH JOHN", "Smith John"),
    )
    for i, (number, held, asked) in enumerate(cases):
        account = {**YAMADA, "account_number": number}
        opened = client.post("/_control/bank-accounts", json={**account, "holder_kana": held}, headers=TOKEN)
        assert opened.status_code == 201, opened.text
        assert _result(client, auth, {**account, "holder_kana": asked}, key=f"k-{i}") == "match", asked
    assert _result(
        client, auth, {**YAMADA, "account_number": "7000001", "holder_kana": "オオタ ユウコ"}, "k"
    ) == (
        "name_mismatch"  # オ is a letter, ー is not
    )


def test_family_members_name_is_a_mismatch(client: TestClient, auth: Auth) -> None:
    father = account_of("tanaka-kazuo")
    assert _result(client, auth, {**father, "holder_kana": "タナカ ユキ"}, "daughter") == "name_mismatch"
    assert _result(client, auth, {**father, "holder_kana": "タナカ カズオ"}, "himself") == "match"


def test_voicing_marks_count(client: TestClient, auth: Auth) -> None:
    assert (
        _result(client, auth, account_of("suzuki-ichiro", holder_kana="ススキ イチロウ"), "k")
        == "name_mismatch"
    )


@pytest.mark.parametrize(
    "change",
    [
        {"account_number": "1234568"},
        {"branch_code": "002"},
        {"bank_code": "0005"},
        {"account_type": "current"},  # the same number, another kind of account
        {"account_type": "savings"},
    ],
)
def test_no_account(client: TestClient, auth: Auth, change: dict[str, str]) -> None:
    assert _result(client, auth, {**YAMADA, **change}, "k") == "no_account"


def test_number_alone_does_not_name_an_account(client: TestClient, auth: Auth) -> None:
    """Yamada's and Tanaka Kazuo's numbers are the same, at different banks."""
    assert YAMADA["account_number"] == account_of("tanaka-kazuo")["account_number"]
    assert _result(client, auth, {**YAMADA, "holder_kana": "タナカ カズオ"}, "k") == "name_mismatch"


@pytest.mark.parametrize("holder_kana", ["スミス ジョン", "タナカ ユキ"])
def test_account_closed(client: TestClient, auth: Auth, holder_kana: str) -> None:
    assert _result(client, auth, {**SMITH_CLOSED, "holder_kana": holder_kana}, "k") == "account_closed"
    assert _result(client, auth, account_of("smith-john"), "k-open") == "match"  # his open account


# --- Malformed requests -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "change,field",
    [
        ({"bank_code": "001"}, "bank_code"),
        ({"bank_code": "00001"}, "bank_code"),
        ({"bank_code": "00a1"}, "bank_code"),
        ({"bank_code": "０００１"}, "bank_code"),  # full-width digits: the portal sends ASCII
        ({"bank_code": 1}, "bank_code"),
        ({"branch_code": "01"}, "branch_code"),
        ({"branch_code": "0001"}, "branch_code"),
        ({"account_type": "futsu"}, "account_type"),
        ({"account_type": "Ordinary"}, "account_type"),
        ({"account_number": "123456"}, "account_number"),
        ({"account_number": "12345678"}, "account_number"),
        ({"account_number": 1234567}, "account_number"),
        ({"holder_kana": ""}, "holder_kana"),
        ({"holder_kana": "   "}, "holder_kana"),
        ({"holder_kana": "ア" * 49}, "holder_kana"),
        ({"holder_kana": "ヤマダ\x00ハナコ"}, "holder_kana"),
        ({"holder_kana": None}, "holder_kana"),
        ({"holder_name": "ヤマダ ハナコ"}, "holder_name"),  # an unknown field
    ],
)
def test_malformed_body_is_refused(
    client: TestClient, auth: Auth, change: dict[str, Any], field: str
) -> None:
    response = _check(client, auth, {**YAMADA, **change})
    assert response.status_code == 422, change
    body = response.json()
    assert body["error"] == "invalid_request" and field in body["message"]
    assert _checks(client) == []


def test_every_field_is_required(client: TestClient, auth: Auth) -> None:
    for field in YAMADA:
        response = _check(client, auth, {k: v for k, v in YAMADA.items() if k != field}, key=f"no-{field}")
        assert response.status_code == 422 and field in response.json()["message"], field
    assert _check(client, auth, ["not", "an", "object"]).status_code == 422
    assert _result(client, auth, {**YAMADA, "holder_kana": "ア" * 48}, "longest") == "name_mismatch"


# --- Idempotency --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "key,error",
    [
        (None, "idempotency_key_required"),
        ("", "idempotency_key_required"),
        ("x" * 256, "invalid_idempotency_key"),
    ],
)
def test_idempotency_key_is_required(client: TestClient, auth: Auth, key: str | None, error: str) -> None:
    response = _check(client, auth, YAMADA, key=key)
    assert response.status_code == 400 and response.json()["error"] == error
    assert _checks(client) == []


def test_same_key_same_body_answers_the_same_check(client: TestClient, auth: Auth) -> None:
    first = _check(client, auth, YAMADA, key="application-1")
    # The account closes in between: a replay still answers what was answered, and checks nothing again.
    closed = {**YAMADA, "holder_kana": "ﾔﾏﾀﾞ ﾊﾅｺ", "closed": True}
    assert client.post("/_control/bank-accounts", json=closed, headers=TOKEN).json()["replaced"] is True
    again = _check(client, auth, YAMADA, key="application-1")  # a retried task, with a fresh assertion
    assert first.status_code == again.status_code == 200
    assert again.json() == first.json() and first.json()["result"] == "match"
    assert again.headers["Idempotent-Replayed"] == "true"
    assert len(_checks(client)) == 1
    assert _result(client, auth, YAMADA, "application-2") == "account_closed"


def test_same_key_other_body_is_refused(client: TestClient, auth: Auth) -> None:
    assert _check(client, auth, YAMADA, key="once").status_code == 200
    for change in ({"holder_kana": "ﾔﾏﾀﾞ ﾊﾅｺ"}, {"account_number": "1234568"}):
        response = _check(client, auth, {**YAMADA, **change}, key="once")
        assert response.status_code == 422 and response.json()["error"] == "idempotency_key_reused", change
    assert len(_checks(client)) == 1


# --- Authentication and faults ------------------------------------------------------------------------------


def test_check_needs_a_valid_assertion_for_the_bank_check(
    client: TestClient, auth: Auth, make_assertion: AssertionMaker
) -> None:
    assert client.post(URL, json=YAMADA, headers={"Idempotency-Key": "a"}).status_code == 401
    # The body is not looked at before the caller is known.
    nonsense = client.post(URL, json={"nonsense": 1}, headers={"Idempotency-Key": "a"})
    assert nonsense.status_code == 401 and nonsense.json()["error"] == "missing_assertion"
    elsewhere = {"Authorization": f"Bearer {make_assertion('municipal-tax')}", "Idempotency-Key": "b"}
    response = client.post(URL, json=YAMADA, headers=elsewhere)
    assert response.status_code == 401 and response.json()["error"] == "invalid_assertion"
    token = make_assertion(BANK)
    headers = {"Authorization": f"Bearer {token}", "Idempotency-Key": "c"}
    assert client.post(URL, json=YAMADA, headers=headers).status_code == 200
    replayed = client.post(URL, json=YAMADA, headers=headers)
    assert replayed.status_code == 401 and replayed.json()["error"] == "replayed_assertion"
    assert len(_checks(client)) == 1


def test_faults_apply_to_the_bank_check(client: TestClient, auth: Auth) -> None:
    control = f"/_control/agencies/{BANK}"
    assert client.put(control, json={"outage": True, "retry_after_s": 9}, headers=TOKEN).status_code == 200
    response = _check(client, auth, YAMADA, key="during-outage")
    assert response.status_code == 503 and response.headers["Retry-After"] == "9"
    assert response.json()["error"] == "agency_unavailable"
    client.put(control, json={"outage": False, "error_rate": 1}, headers=TOKEN)
    assert _check(client, auth, YAMADA, key="during-errors").status_code == 500
    assert _checks(client) == []  # nothing was checked by refused requests
    client.delete(control, headers=TOKEN)
    assert _check(client, auth, YAMADA, key="during-outage").status_code == 200


def test_another_agencys_outage_leaves_the_bank_check_alone(client: TestClient, auth: Auth) -> None:
    client.put("/_control/agencies/municipal-tax", json={"outage": True}, headers=TOKEN)
    assert _check(client, auth, YAMADA).status_code == 200


# --- Control endpoints --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "method,path",
    [
        ("post", "/_control/bank-accounts"),
        ("delete", "/_control/bank-accounts"),
        ("get", "/_control/bank-checks"),
        ("delete", "/_control/bank-checks"),
    ],
)
def test_control_needs_the_token(client: TestClient, method: str, path: str) -> None:
    body = {"json": {**YAMADA, "account_number": "7000009"}} if method == "post" else {}
    assert client.request(method, path, **body).status_code == 401
    assert client.request(method, path, headers={"X-Control-Token": "nope"}, **body).status_code == 403


def test_accounts_added_at_run_time_are_checked_until_reset(client: TestClient, auth: Auth) -> None:
    added = {**YAMADA, "account_number": "7000003", "holder_kana": "ﾃｽﾄ ﾀﾛｳ"}
    response = client.post("/_control/bank-accounts", json=added, headers=TOKEN)
    assert response.status_code == 201 and response.json() == {**added, "closed": False, "replaced": False}
    assert _result(client, auth, {**added, "holder_kana": "テスト タロウ"}, "k-1") == "match"
    closed = {**YAMADA, "closed": True}
    assert client.post("/_control/bank-accounts", json=closed, headers=TOKEN).json()["replaced"] is True
    assert _result(client, auth, YAMADA, "k-2") == "account_closed"

    reset = client.delete("/_control/bank-accounts", headers=TOKEN)
    assert reset.status_code == 200 and reset.json() == {"accounts": len(PEOPLE) + 1}
    assert _result(client, auth, {**added, "holder_kana": "テスト タロウ"}, "k-3") == "no_account"
    assert _result(client, auth, YAMADA, "k-4") == "match"


def test_control_validates_accounts(client: TestClient) -> None:
    for change in ({"account_number": "12"}, {"closed": "yes"}, {"holder_kana": ""}, {"extra": 1}):
        response = client.post("/_control/bank-accounts", json={**YAMADA, **change}, headers=TOKEN)
        assert response.status_code == 422, change


def test_checks_are_listed_without_names(client: TestClient, auth: Auth, initialised: Settings) -> None:
    _check(client, auth, YAMADA, key="first")
    _check(client, auth, {**SMITH_CLOSED, "holder_kana": "ジョン スミス"}, key="second")
    checks = _checks(client)
    assert [(c["idempotency_key"], c["result"]) for c in checks] == [
        ("first", "match"),
        ("second", "account_closed"),
    ]
    assert set(checks[0]) == {
        "check_id",
        "idempotency_key",
        "bank_code",
        "branch_code",
        "account_type",
        "account_number",
        "result",
        "checked_at",
    }
    assert checks[1]["account_number"] == "6789012"
    with sqlite3.connect(initialised.db_path) as conn:
        stored = " ".join(str(row) for row in conn.execute("SELECT * FROM bank_checks"))
    assert "6789012" in stored  # the dump does look at the stored checks
    for name in ("ヤマダ", "ﾔﾏﾀﾞ", "ジョン", "ｼﾞﾖﾝ"):
        assert name not in stored

    cleared = client.delete("/_control/bank-checks", headers=TOKEN)
    assert cleared.status_code == 200 and cleared.json() == {"checks": []}
    assert _checks(client) == []


def test_init_resets_accounts_and_keeps_checks(client: TestClient, auth: Auth, initialised: Settings) -> None:
    added = {**YAMADA, "account_number": "7000004"}
    client.post("/_control/bank-accounts", json=added, headers=TOKEN)
    assert _result(client, auth, added, "before-init") == "match"
    initialise(initialised, today=TODAY)
    assert _result(client, auth, added, "after-init") == "no_account"
    assert [c["idempotency_key"] for c in _checks(client)] == ["before-init", "after-init"]


def test_openapi_describes_the_check(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    operation = spec["paths"][URL]["post"]
    assert operation["summary"] and "never the name" in operation["description"]
    assert {"200", "400", "401", "422", "503"} <= set(operation["responses"])
    request = spec["components"]["schemas"]["BankCheckRequest"]
    assert request["properties"]["bank_code"]["pattern"] == "^[0-9]{4}$"
    assert request["additionalProperties"] is False
    answer = spec["components"]["schemas"]["BankCheckAnswer"]
    assert answer["properties"]["result"]["enum"] == [
        "match",
        "name_mismatch",
        "no_account",
        "account_closed",
    ]
    for path in ("/_control/bank-accounts", "/_control/bank-checks"):
        assert path in spec["paths"]
