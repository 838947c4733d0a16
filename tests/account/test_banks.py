"""Banks, branches and account numbers (portal.account.banks): zengin-code's data and the input checks."""

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import jaconv
import pytest
from hypothesis import given
from hypothesis import strategies as st

from portal.account import banks
from portal.account.banks import (
    AccountType,
    Bank,
    Branch,
    account_number_check,
    bank_code_check,
    bank_get,
    bank_search,
    branch_code_check,
    branch_get,
    branch_search,
    data_version,
    japan_post_convert,
    retired_branch_get,
)
from portal.core.errors import PortalError

REPO = Path(__file__).resolve().parents[2]
# The test's own reading of zengin-code's files, to check the module against.
ZENGIN = (
    Path(next(iter(importlib.util.find_spec("zengin_code").submodule_search_locations))) / "source-data/data"
)
BANKS = json.loads((ZENGIN / "banks.json").read_text(encoding="utf-8"))
JAPAN_POST = json.loads((ZENGIN / "branches/9900.json").read_text(encoding="utf-8"))
RETIRED = json.loads(banks.RETIRED_BRANCHES_FILE.read_text(encoding="utf-8"))
FULL_WIDTH = str.maketrans("0123456789", "０１２３４５６７８９")

digits = st.text("0123456789", min_size=1, max_size=12)
bank_codes = st.sampled_from(sorted(BANKS))
# Banks with many, few and odd branches: the main banks, a shinkin, an agricultural cooperative, Japan Post.
branch_banks = st.sampled_from(["0001", "0005", "0009", "1001", "3001", "9900"])


def branches_of(bank_code: str) -> dict:
    return json.loads((ZENGIN / f"branches/{bank_code}.json").read_text(encoding="utf-8"))


def refusal(call, *args) -> PortalError:
    with pytest.raises(PortalError) as refused:
        call(*args)
    assert refused.value.status == 422 and refused.value.message_ja and refused.value.message_en
    return refused.value


# --- the data ---------------------------------------------------------------------------------------------


def test_every_zengin_bank_is_found_by_its_code():
    assert {code: bank_get(code) for code in BANKS} == {
        code: Bank(code=code, name=b["name"], kana=b["kana"]) for code, b in BANKS.items()
    }


def test_branches_are_those_of_zengin():
    for code, branch in branches_of("0005").items():
        assert branch_get("0005", code) == Branch(
            bank_code="0005", code=code, name=branch["name"], kana=branch["kana"]
        )
    assert branch_get("0005", "000") is None and branch_get("9999", "001") is None


def test_data_version_is_zengins_and_the_retired_branches_were_made_for_it():
    assert data_version() == (ZENGIN / "updated_at").read_text().strip()
    # Fails when zengin-code is upgraded without running scripts/retired-branches again.
    assert RETIRED["current_release"].endswith("." + data_version())
    assert RETIRED["compared_releases"] and RETIRED["branches"] and RETIRED["banks"]


def test_retired_branches_are_not_current_and_belong_to_current_banks():
    for retired in RETIRED["branches"]:
        assert branch_get(retired["bank_code"], retired["branch_code"]) is None
        assert bank_get(retired["bank_code"]) is not None
        assert retired["last_seen"] in RETIRED["compared_releases"]
    for retired in RETIRED["banks"]:
        assert bank_get(retired["bank_code"]) is None


def test_the_bank_data_is_read_without_importing_zengin_code():
    # `import zengin_code` builds every branch of every bank at import; a fresh process shows it is not done.
    code = (
        "import sys; from portal.account import banks; banks.bank_search('み');"
        " banks.branch_code_check('0001', '001'); assert 'zengin_code' not in sys.modules, 'imported'"
    )
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "portal.settings"}
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr


def test_account_types_have_english_labels_in_the_glossary():
    glossary = json.loads((REPO / "locale/en/glossary.json").read_text(encoding="utf-8"))
    assert AccountType.values == ["ordinary", "current", "savings"]
    assert [glossary[str(label)] for label in AccountType.labels] == ["Ordinary", "Current", "Savings"]


# --- search -----------------------------------------------------------------------------------------------


@given(bank_codes)
def test_a_bank_is_found_first_by_its_code_and_among_the_first_by_its_names(code):
    bank = bank_get(code)
    assert bank_search(code)[0] == bank
    assert bank_search(code.translate(FULL_WIDTH))[0] == bank
    for query in (bank.name, bank.kana, jaconv.kata2hira(bank.kana), jaconv.z2h(bank.kana, kana=True)):
        assert bank in bank_search(query, limit=50), query


@given(branch_banks, st.data())
def test_a_branch_is_found_by_its_code_and_its_names(bank_code, data):
    code = data.draw(st.sampled_from(sorted(branches_of(bank_code))))
    branch = branch_get(bank_code, code)
    assert branch_search(bank_code, code)[0] == branch
    for query in (branch.name, branch.kana, jaconv.kata2hira(branch.kana)):
        assert branch in branch_search(bank_code, query, limit=100), query


@given(st.text("0123456789", min_size=1, max_size=4), st.integers(min_value=1, max_value=30))
def test_code_search_gives_the_exact_code_then_the_codes_it_begins(prefix, limit):
    found = bank_search(prefix, limit=limit)
    assert len(found) <= limit and all(b.code.startswith(prefix) for b in found)
    codes = [b.code for b in found]
    expected = sorted(c for c in BANKS if c.startswith(prefix))
    if prefix in BANKS:
        expected.remove(prefix)
        expected.insert(0, prefix)
    assert codes == expected[:limit]


@pytest.mark.parametrize(
    ("query", "first"),
    [
        ("みずほ", "0001"),
        ("ﾐｽﾞﾎ", "0001"),
        ("ミズホ", "0001"),
        ("みずほ銀行", "0001"),
        ("三菱", "0005"),
        ("ufj", "0005"),
        ("みつびしゆーえふじぇい", "0005"),
        ("ゆうちょ", "9900"),
        ("ゆうちょ銀行", "9900"),
        ("北海道信用金庫", "1001"),
        ("0001", "0001"),
        ("０００９", "0009"),
    ],
)
def test_bank_search_examples(query, first):
    assert bank_search(query)[0].code == first


def test_bank_search_ranks_exact_then_prefix_then_contains():
    names = [b.name for b in bank_search("みずほ")]
    assert names[0] == "みずほ" and names.index("みずほ信託") < names.index("埼玉みずほ農協")
    # Code order would put 山梨中央 (0142) first; names that begin with the query come before it.
    assert [b.code for b in bank_search("中央", limit=3)] == ["2556", "2963", "0142"]
    # The branch named exactly so (240) comes before those whose names begin with it (066, 069).
    assert [b.code for b in branch_search("0001", "新宿", limit=3)] == ["240", "066", "069"]


def test_bank_search_reads_kana_as_the_resident_types_it():
    found = bank_search("とうきょう", limit=50)
    assert found and all("トウキヨウ" in b.kana for b in found)


@pytest.mark.parametrize("query", ["", "   ", "\u3000", "あ" * 65, "存在しない金融機関"])
def test_bank_search_finds_nothing_for_empty_or_unknown(query):
    assert bank_search(query) == []


def test_search_respects_the_limit():
    assert len(bank_search("の", limit=5)) == 5 and bank_search("の", limit=0) == []


@pytest.mark.parametrize(
    ("bank_code", "query", "name"),
    [
        ("0001", "まるのうち", "丸之内"),
        ("0001", "ｼﾝｼﾞﾕｸ", "新宿"),
        ("0001", "新宿支店", "新宿"),
        ("0001", "001", "東京営業部"),
        ("0009", "梅田", "梅田"),
        ("9900", "〇一八", "〇一八"),
        ("9900", "ぜろいちはち", "〇一八"),
    ],
)
def test_branch_search_examples(bank_code, query, name):
    assert branch_search(bank_code, query)[0].name == name


def test_branch_search_of_an_unknown_bank_is_empty():
    assert branch_search("9999", "本店") == [] and branch_search("abc", "1") == []


# --- bank_code_check --------------------------------------------------------------------------------------


@given(st.text("0123456789", min_size=4, max_size=4), st.booleans())
def test_any_four_digits_give_a_bank_or_a_clear_refusal(code, full_width):
    typed = code.translate(FULL_WIDTH) if full_width else code
    try:
        bank = bank_code_check(typed)
    except PortalError as refused:
        assert code not in BANKS
        assert refused.status == 422 and refused.code in {"bank_code_unknown", "bank_code_retired"}
        assert code in refused.message_ja and code in refused.message_en
    else:
        assert bank == bank_get(code) and bank.code == code and code in BANKS


@given(st.text(max_size=8))
def test_any_text_gives_a_bank_or_a_refusal_never_another_error(typed):
    try:
        bank = bank_code_check(typed)
    except PortalError as refused:
        assert refused.status == 422 and refused.code.startswith("bank_code_")
    else:
        assert bank.code in BANKS


@given(
    st.characters().filter(lambda c: c not in "0123456789０１２３４５６７８９" and not c.isspace()),
    digits,
    st.data(),
)
def test_a_code_with_a_non_digit_is_refused(wrong, some_digits, data):
    at = data.draw(st.integers(min_value=0, max_value=len(some_digits)))
    typed = some_digits[:at] + wrong + some_digits[at:]
    assert refusal(bank_code_check, typed).code == "bank_code_invalid"
    assert refusal(branch_code_check, "0001", typed).code == "branch_code_invalid"
    assert refusal(account_number_check, typed).code == "account_number_invalid"


def test_bank_code_check_accepts_full_width_digits_and_spaces_around():
    assert bank_code_check("　０００１ ").code == "0001"


@pytest.mark.parametrize("typed", ["", "  ", "\u3000"])
def test_bank_code_check_asks_for_a_code(typed):
    refused = refusal(bank_code_check, typed)
    assert refused.code == "bank_code_invalid" and refused.extra == {"field": "bank_code"}
    assert (
        "金融機関コード（4桁の数字）を入力してください" in refused.message_ja
        and "Enter the bank code" in refused.message_en
    )


@pytest.mark.parametrize(
    ("typed", "shown"),
    [("00a1", "a"), ("0001-", "-"), ("みずほ", "み"), ("00 1", "U+0020"), ("٠٠٠١", "٠"), ("000¹", "¹")],
)
def test_bank_code_check_names_what_is_not_a_digit(typed, shown):
    refused = refusal(bank_code_check, typed)
    assert refused.code == "bank_code_invalid"
    assert "4桁の数字" in refused.message_ja and f"「{shown}」" in refused.message_ja
    assert "is 4 digits" in refused.message_en and f'"{shown}"' in refused.message_en


@pytest.mark.parametrize(("typed", "length"), [("1", 1), ("001", 3), ("00001", 5), ("０００", 3)])
def test_bank_code_check_says_four_digits_for_a_wrong_length(typed, length):
    refused = refusal(bank_code_check, typed)
    assert refused.code == "bank_code_invalid"
    assert f"4桁の数字です（入力は{length}桁）" in refused.message_ja
    assert f"has 4 digits (you entered {length})" in refused.message_en


def test_bank_code_check_refuses_an_unknown_code():
    unknown = next(
        f"{n:04d}"
        for n in range(10000)
        if f"{n:04d}" not in BANKS and banks.retired_bank_get(f"{n:04d}") is None
    )
    refused = refusal(bank_code_check, unknown)
    assert (
        refused.code == "bank_code_unknown"
        and f"金融機関コード {unknown} の金融機関は見つかりません" in refused.message_ja
    )
    assert f"No bank has the code {unknown}" in refused.message_en


def test_bank_code_check_says_a_merged_bank_no_longer_exists():
    retired = RETIRED["banks"][0]
    refused = refusal(bank_code_check, retired["bank_code"])
    assert refused.code == "bank_code_retired"
    assert retired["name"] in refused.message_ja and "現在はありません" in refused.message_ja
    assert retired["name"] in refused.message_en and "no longer exists" in refused.message_en


# --- branch_code_check ------------------------------------------------------------------------------------


@given(branch_banks, st.text("0123456789", min_size=3, max_size=3))
def test_any_three_digits_give_a_branch_or_a_clear_refusal(bank_code, code):
    try:
        branch = branch_code_check(bank_code, code)
    except PortalError as refused:
        assert branch_get(bank_code, code) is None and code not in branches_of(bank_code)
        assert refused.status == 422 and refused.code in {"branch_code_unknown", "branch_retired"}
        assert (refused.code == "branch_retired") == (retired_branch_get(bank_code, code) is not None)
        assert code in refused.message_ja and code in refused.message_en
    else:
        assert branch == branch_get(bank_code, code) and branch.code == code and branch.bank_code == bank_code


def test_branch_code_check_accepts_full_width_digits():
    assert branch_code_check("０００１", "００１").name == "東京営業部"


def test_branch_code_check_checks_the_bank_first():
    assert refusal(branch_code_check, "00a1", "001").code == "bank_code_invalid"


@pytest.mark.parametrize(
    ("typed", "ja", "en"),
    [
        ("", "支店コード（店番号）（3桁の数字）を入力してください", "Enter the branch code (3 digits)"),
        ("0a1", "3桁の数字で入力してください。数字以外の文字が含まれています: 「a」", 'not digits: "a"'),
        ("01", "3桁の数字です（入力は2桁）", "has 3 digits (you entered 2)"),
        ("0011", "3桁の数字です（入力は4桁）", "has 3 digits (you entered 4)"),
    ],
)
def test_branch_code_check_says_what_is_wrong_with_the_code(typed, ja, en):
    refused = refusal(branch_code_check, "0001", typed)
    assert refused.code == "branch_code_invalid" and refused.extra == {"field": "branch_code"}
    assert ja in refused.message_ja and en in refused.message_en


def test_branch_code_check_refuses_an_unknown_branch():
    unknown = next(
        f"{n:03d}"
        for n in range(1000)
        if branch_get("0001", f"{n:03d}") is None and retired_branch_get("0001", f"{n:03d}") is None
    )
    refused = refusal(branch_code_check, "0001", unknown)
    assert refused.code == "branch_code_unknown"
    assert f"みずほ（0001）に店番号 {unknown} の支店は見つかりません" in refused.message_ja
    assert f"みずほ (0001) has no branch with the code {unknown}" in refused.message_en


def test_branch_code_check_names_a_merged_branch_and_asks_for_the_current_code():
    retired = RETIRED["branches"][0]
    refused = refusal(branch_code_check, retired["bank_code"], retired["branch_code"])
    assert refused.code == "branch_retired"
    assert (
        f"「{retired['name']}」（{retired['kana']}、店番号 {retired['branch_code']}）" in refused.message_ja
    )
    assert "現在はありません" in refused.message_ja and "現在の支店コード" in refused.message_ja
    assert retired["name"] in refused.message_en and "no longer exists" in refused.message_en
    assert "current branch code" in refused.message_en and "passbook" in refused.message_en


# --- account_number_check ---------------------------------------------------------------------------------


@given(st.text("0123456789", min_size=1, max_size=7).filter(lambda d: d.strip("0")), st.booleans())
def test_account_numbers_are_zero_padded_to_seven_digits(number, full_width):
    checked = account_number_check(number.translate(FULL_WIDTH) if full_width else number)
    assert checked == number.rjust(7, "0") and int(checked) == int(number)


@given(st.text("0123456789", min_size=8, max_size=20))
def test_account_numbers_longer_than_seven_digits_are_refused(number):
    refused = refusal(account_number_check, number)
    assert refused.code == "account_number_invalid" and "7桁まで" in refused.message_ja
    assert f"you entered {len(number)}" in refused.message_en


@given(st.text(max_size=10))
def test_any_text_gives_seven_digits_or_a_refusal(typed):
    try:
        checked = account_number_check(typed)
    except PortalError as refused:
        assert refused.code == "account_number_invalid" and refused.extra == {"field": "account_number"}
    else:
        assert len(checked) == 7 and checked.isascii() and checked.isdigit()


@pytest.mark.parametrize(
    ("typed", "ja", "en"),
    [
        ("", "口座番号（7桁までの数字）を入力してください", "Enter the account number"),
        ("123-456", "数字以外の文字が含まれています: 「-」", 'not digits: "-"'),
        ("12345678", "7桁までの数字です（入力は8桁）", "you entered 8"),
        ("0000000", "すべて0です", "all zeros"),
        ("0", "すべて0です", "all zeros"),
    ],
)
def test_account_number_check_says_what_is_wrong(typed, ja, en):
    refused = refusal(account_number_check, typed)
    assert refused.code == "account_number_invalid" and ja in refused.message_ja and en in refused.message_en


# --- Japan Post Bank --------------------------------------------------------------------------------------

ORDINARY_CODES = sorted(c for c in JAPAN_POST if c.endswith("8"))
CURRENT_CODES = sorted(c for c in JAPAN_POST if c.endswith("9"))
accounts = st.text("0123456789", min_size=1, max_size=7).filter(lambda d: d.strip("0"))


@given(st.sampled_from(ORDINARY_CODES), st.text("0123456789", min_size=2, max_size=2), accounts, st.data())
def test_japan_post_ordinary_round_trips(branch_code, tail, account, data):
    symbol = "1" + branch_code[:2] + tail
    number = account + "1"
    number = number.rjust(data.draw(st.integers(min_value=len(number), max_value=8)), "0")
    assert japan_post_convert(symbol, number) == (branch_code, "ordinary", account.rjust(7, "0"))
    assert branch_code_check("9900", branch_code).code == branch_code


@given(st.sampled_from(CURRENT_CODES), st.text("0123456789", min_size=2, max_size=2), accounts)
def test_japan_post_transfer_account_round_trips(branch_code, tail, account):
    symbol = "0" + branch_code[:2] + tail
    assert japan_post_convert(symbol, account) == (branch_code, "current", account.rjust(7, "0"))
    assert japan_post_convert(symbol.translate(FULL_WIDTH), account.translate(FULL_WIDTH))[0] == branch_code


@given(st.text("01", min_size=1, max_size=1), st.text("0123456789", min_size=4, max_size=4))
def test_japan_post_symbol_without_a_branch_is_refused(first, rest):
    symbol = first + rest
    branch_code = rest[:2] + ("8" if first == "1" else "9")
    if branch_code in JAPAN_POST:
        assert japan_post_convert(symbol, "1234561")[0] == branch_code
    else:
        refused = refusal(japan_post_convert, symbol, "1234561")
        assert refused.code == "japan_post_branch_unknown" and branch_code in refused.message_ja


@given(st.text(max_size=7), st.text(max_size=9))
def test_japan_post_convert_gives_a_conversion_or_a_refusal(symbol, number):
    try:
        branch_code, account_type, account = japan_post_convert(symbol, number)
    except PortalError as refused:
        assert refused.status == 422 and refused.code.startswith("japan_post_")
    else:
        assert branch_code in JAPAN_POST and account_type in AccountType.values and len(account) == 7


@pytest.mark.parametrize(
    ("symbol", "number", "converted"),
    [
        ("10180", "34567891", ("018", "ordinary", "3456789")),
        ("12340", "12345671", ("238", "ordinary", "1234567")),
        ("10530", "12345671", ("058", "ordinary", "1234567")),
        ("17300", "1234561", ("738", "ordinary", "0123456")),
        ("00120", "123456", ("019", "current", "0123456")),
        ("１２３４０", "１２３４５６７１", ("238", "ordinary", "1234567")),
    ],
)
def test_japan_post_examples(symbol, number, converted):
    assert japan_post_convert(symbol, number) == converted


@pytest.mark.parametrize(
    ("symbol", "number", "code", "ja", "en"),
    [
        ("1234", "12345671", "japan_post_symbol_invalid", "記号は5桁の数字", "symbol is 5 digits"),
        ("123456", "12345671", "japan_post_symbol_invalid", "1桁の数字がある場合", "leave it out"),
        ("1a340", "12345671", "japan_post_symbol_invalid", "記号は5桁の数字", "symbol is 5 digits"),
        ("", "12345671", "japan_post_symbol_invalid", "記号は5桁の数字", "symbol is 5 digits"),
        (
            "22340",
            "12345671",
            "japan_post_symbol_invalid",
            "「1」（総合口座・通常貯金）か「0」（振替口座）",
            "starts with 1",
        ),
        ("12340", "", "japan_post_number_invalid", "8桁までの数字", "in digits (up to 8)"),
        ("12340", "1234-671", "japan_post_number_invalid", "8桁までの数字", "in digits (up to 8)"),
        ("12340", "123456781", "japan_post_number_invalid", "8桁までです（入力は9桁）", "you entered 9"),
        ("12340", "12345678", "japan_post_number_invalid", "末尾が「1」", "ending in 1"),
        ("12340", "1", "japan_post_number_invalid", "末尾が「1」の2桁から8桁", "2 to 8 digits"),
        ("12340", "00000001", "japan_post_number_invalid", "すべて0", "all zeros"),
        ("00120", "12345678", "japan_post_number_invalid", "7桁までです（入力は8桁）", "you entered 8"),
        ("00120", "0000", "japan_post_number_invalid", "すべて0", "all zeros"),
        (
            "11580",
            "12345671",
            "japan_post_branch_unknown",
            "記号 11580 に当たるゆうちょ銀行の店番号 158",
            "no branch 158",
        ),
        (
            "03090",
            "123456",
            "japan_post_branch_unknown",
            "記号 03090 に当たるゆうちょ銀行の店番号 309",
            "no branch 309",
        ),
    ],
)
def test_japan_post_convert_says_what_is_wrong(symbol, number, code, ja, en):
    refused = refusal(japan_post_convert, symbol, number)
    assert refused.code == code and ja in refused.message_ja and en in refused.message_en
