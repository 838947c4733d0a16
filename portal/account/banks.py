"""金融機関・支店: banks and branches from the zengin-code data, and the checks of what a resident types.

The package's own JSON files are read on first use, banks at once and each bank's branches when first asked
for; `import zengin_code` is never done, as it builds objects for all 31,000 branches at import. Pure: no
database, no network, and never a guess at an account that was not typed.
"""

import functools
import importlib.util
import json
import unicodedata
from dataclasses import dataclass
from pathlib import Path

from django.db import models
from django.utils.translation import gettext_lazy as _

from portal.account.kana import kana_match_key
from portal.core.errors import PortalError

JAPAN_POST_BANK_CODE = "9900"
RETIRED_BRANCHES_FILE = Path(__file__).resolve().parent / "data" / "retired-branches.json"

_QUERY_MAX_LENGTH = 64
_FULL_WIDTH_DIGITS = str.maketrans("０１２３４５６７８９", "0123456789")
# What people add to a name that zengin-code leaves out or shortens ("みずほ銀行" is "みずほ").
_BANK_SUFFIXES = (
    ("銀行", ""),
    ("信用金庫", "信金"),
    ("信用組合", "信組"),
    ("労働金庫", "労金"),
    ("農業協同組合", "農協"),
    ("漁業協同組合", "漁協"),
    ("ぎんこう", ""),
    ("しんようきんこ", "しんきん"),
    ("しんようくみあい", "しんくみ"),
    ("ろうどうきんこ", "ろうきん"),
)
_BRANCH_SUFFIXES = (("支店", ""), ("してん", ""))


class AccountType(models.TextChoices):
    """預金種目: the kind of deposit, as banks name it."""

    ORDINARY = "ordinary", _("普通")
    CURRENT = "current", _("当座")
    SAVINGS = "savings", _("貯蓄")


@dataclass(frozen=True, slots=True)
class Bank:
    """金融機関: a bank, credit union or agricultural cooperative, as zengin-code names it (no "銀行")."""

    code: str
    name: str
    kana: str


@dataclass(frozen=True, slots=True)
class Branch:
    """支店: a branch of a bank; `code` is the 3-digit 店番号."""

    bank_code: str
    code: str
    name: str
    kana: str


@dataclass(frozen=True, slots=True)
class RetiredBranch:
    """A branch closed or merged away since an older zengin-code release (scripts/retired-branches)."""

    bank_code: str
    code: str
    name: str
    kana: str
    last_seen: str


@dataclass(frozen=True, slots=True)
class RetiredBank:
    """A bank code that no longer exists (a merger), from the same comparison."""

    code: str
    name: str
    kana: str
    last_seen: str


# (code, folded name, folded kana, item), in code order: what a search scans.
_Entry = tuple[str, str, str, Bank | Branch]


@dataclass(frozen=True, slots=True)
class _Index:
    by_code: dict[str, Bank] | dict[str, Branch]
    entries: tuple[_Entry, ...]


def _data_dir() -> Path:
    # find_spec finds a top-level package without running its __init__ (which would load everything).
    spec = importlib.util.find_spec("zengin_code")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("zengin-code is not installed")
    return Path(next(iter(spec.submodule_search_locations))) / "source-data" / "data"


def _read_json(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))


def _fold_name(text: str, suffixes: tuple[tuple[str, str], ...] = ()) -> str:
    text = "".join(unicodedata.normalize("NFKC", text).casefold().split())
    for suffix, replacement in suffixes:
        if text.endswith(suffix) and len(text) > len(suffix):
            return text[: -len(suffix)] + replacement
    return text


def _fold_kana(text: str, suffixes: tuple[tuple[str, str], ...] = ()) -> str:
    # Hiragana suffixes: the kana key is katakana, so compare in one script.
    text = unicodedata.normalize("NFKC", kana_match_key(text)).casefold()
    for suffix, replacement in suffixes:
        key = kana_match_key(suffix)
        if text.endswith(key) and len(text) > len(key):
            return text[: -len(key)] + kana_match_key(replacement)
    return text


def _same(folded: str, original: str) -> str:
    # Most names fold to themselves: keep one string, not two equal ones (31,000 branches when all loaded).
    return original if folded == original else folded


def _index(items: list[Bank] | list[Branch]) -> _Index:
    items = sorted(items, key=lambda item: item.code)
    entries = tuple(
        (item.code, _same(_fold_name(item.name), item.name), _same(_fold_kana(item.kana), item.kana), item)
        for item in items
    )
    return _Index(by_code={item.code: item for item in items}, entries=entries)


@functools.cache
def _banks() -> _Index:
    banks = _read_json(_data_dir() / "banks.json")
    return _index([Bank(code=b["code"], name=b["name"], kana=b["kana"]) for b in banks.values()])


@functools.cache
def _branches(bank_code: str) -> _Index:
    # Called only with a code found in banks.json: no path is built from what a user typed.
    branches = _read_json(_data_dir() / "branches" / f"{bank_code}.json")
    return _index(
        [
            Branch(bank_code=bank_code, code=b["code"], name=b["name"], kana=b["kana"])
            for b in branches.values()
        ]
    )


@functools.cache
def _retired() -> tuple[dict[str, RetiredBank], dict[tuple[str, str], RetiredBranch]]:
    data = _read_json(RETIRED_BRANCHES_FILE)
    banks = {
        b["bank_code"]: RetiredBank(b["bank_code"], b["name"], b["kana"], b["last_seen"])
        for b in data["banks"]
    }
    branches = {
        (b["bank_code"], b["branch_code"]): RetiredBranch(
            b["bank_code"], b["branch_code"], b["name"], b["kana"], b["last_seen"]
        )
        for b in data["branches"]
    }
    return banks, branches


@functools.cache
def data_version() -> str:
    """zengin-code's data date (updated_at), e.g. "20260824"."""
    return (_data_dir() / "updated_at").read_text(encoding="utf-8").strip()


def _digits(value: str) -> str:
    return value.strip().translate(_FULL_WIDTH_DIGITS) if isinstance(value, str) else ""


def bank_get(code: str) -> Bank | None:
    """The bank with this 4-digit code (full-width digits accepted), or None."""
    return _banks().by_code.get(_digits(code))


def branch_get(bank_code: str, branch_code: str) -> Branch | None:
    """The current branch with this code at this bank, or None (also for an unknown bank)."""
    bank = bank_get(bank_code)
    if bank is None:
        return None
    return _branches(bank.code).by_code.get(_digits(branch_code))


def retired_bank_get(code: str) -> RetiredBank | None:
    """A bank code that existed in an older zengin-code release but no longer does, or None."""
    return _retired()[0].get(_digits(code))


def retired_branch_get(bank_code: str, branch_code: str) -> RetiredBranch | None:
    """A branch that existed in an older zengin-code release but is closed or merged now, or None."""
    return _retired()[1].get((_digits(bank_code), _digits(branch_code)))


def _search(index: _Index, query: str, limit: int, suffixes: tuple[tuple[str, str], ...]) -> list:
    if not isinstance(query, str) or limit <= 0 or not query.strip() or len(query) > _QUERY_MAX_LENGTH:
        return []
    digits = _digits(query)
    if digits.isascii() and digits.isdigit():
        exact = index.by_code.get(digits)
        prefixed = [
            item for code, _n, _k, item in index.entries if code.startswith(digits) and code != digits
        ]
        return ([exact] if exact else []) + prefixed[: limit - (1 if exact else 0)]
    name_query = _fold_name(query, suffixes)
    kana_query = _fold_kana(query, suffixes)
    exact, prefixed, contained = [], [], []
    for _code, name, kana, item in index.entries:
        if name == name_query or kana == kana_query:
            exact.append(item)
        elif name.startswith(name_query) or (kana_query and kana.startswith(kana_query)):
            prefixed.append(item)
        elif name_query in name or (kana_query and kana_query in kana):
            contained.append(item)
    return (exact + prefixed + contained)[:limit]


def bank_search(query: str, limit: int = 20) -> list[Bank]:
    """Banks for an incremental search, best first: exact code or name, then prefix, then contains.

    Digits (half- or full-width) search codes by prefix. Anything else searches the name (kanji or kana,
    "銀行" or "信用金庫" may be added) and the kana reading in hiragana, katakana or half-width kana, small
    kana and long-vowel marks as the resident types them ("とうきょう" finds "トウキヨウ").
    """
    return _search(_banks(), query, limit, _BANK_SUFFIXES)


def branch_search(bank_code: str, query: str, limit: int = 20) -> list[Branch]:
    """Branches of one bank for an incremental search, ranked as bank_search; [] for an unknown bank."""
    bank = bank_get(bank_code)
    if bank is None:
        return []
    return _search(_branches(bank.code), query, limit, _BRANCH_SUFFIXES)


def _error(code: str, field: str, ja: str, en: str) -> PortalError:
    return PortalError(code, ja, en, 422, extra={"field": field})


def _non_digits(value: str) -> tuple[str, str]:
    wrong = list(dict.fromkeys(c for c in value if c not in "0123456789"))[:5]
    shown = [c if c.isprintable() and not c.isspace() else f"U+{ord(c):04X}" for c in wrong]
    return "、".join(f"「{c}」" for c in shown), ", ".join(f'"{c}"' for c in shown)


def _code_digits(value: str, *, length: int, code: str, field: str, what_ja: str, what_en: str) -> str:
    """A code of exactly `length` digits, or a refusal that says what was wrong with it."""
    digits = _digits(value)
    if not digits:
        raise _error(
            code,
            field,
            f"{what_ja}（{length}桁の数字）を入力してください。",
            f"Enter the {what_en} ({length} digits).",
        )
    if not (digits.isascii() and digits.isdigit()):
        ja_chars, en_chars = _non_digits(digits)
        raise _error(
            code,
            field,
            f"{what_ja}は{length}桁の数字で入力してください。数字以外の文字が含まれています: {ja_chars}",
            f"The {what_en} is {length} digits. It contains characters that are not digits: {en_chars}",
        )
    if len(digits) != length:
        raise _error(
            code,
            field,
            f"{what_ja}は{length}桁の数字です（入力は{len(digits)}桁）。",
            f"The {what_en} has {length} digits (you entered {len(digits)}).",
        )
    return digits


def bank_code_check(code: str) -> Bank:
    """The bank a resident's 4-digit code names, or a PortalError (422) saying what is wrong with the code."""
    digits = _code_digits(
        code,
        length=4,
        code="bank_code_invalid",
        field="bank_code",
        what_ja="金融機関コード",
        what_en="bank code",
    )
    bank = bank_get(digits)
    if bank is not None:
        return bank
    retired = retired_bank_get(digits)
    if retired is not None:
        raise _error(
            "bank_code_retired",
            "bank_code",
            f"金融機関コード {digits}（{retired.name}）の金融機関は、合併などにより現在はありません。"
            "口座のある金融機関の現在のコードを入力してください。",
            f"The bank with code {digits} ({retired.name}) no longer exists, after a merger or closure. "
            "Enter the current code of the bank that holds the account.",
        )
    raise _error(
        "bank_code_unknown",
        "bank_code",
        f"金融機関コード {digits} の金融機関は見つかりません。通帳やキャッシュカードでご確認ください。",
        f"No bank has the code {digits}. Check your passbook or cash card.",
    )


def branch_code_check(bank_code: str, branch_code: str) -> Branch:
    """The current branch a 3-digit code names at this bank, or a PortalError (422).

    A branch that has been closed or merged is named, with the advice to use the account's current branch
    code (banks print it in the passbook after a merger).
    """
    bank = bank_code_check(bank_code)
    digits = _code_digits(
        branch_code,
        length=3,
        code="branch_code_invalid",
        field="branch_code",
        what_ja="支店コード（店番号）",
        what_en="branch code",
    )
    branch = _branches(bank.code).by_code.get(digits)
    if branch is not None:
        return branch
    retired = retired_branch_get(bank.code, digits)
    if retired is not None:
        raise _error(
            "branch_retired",
            "branch_code",
            f"{bank.name}の「{retired.name}」（{retired.kana}、店番号 {digits}）は、"
            "統合または廃止により現在はありません。"
            "合併の後に通帳に印字された店番号など、口座の現在の支店コードを入力してください。",
            f"The {bank.name} branch {retired.name} ({retired.kana}, code {digits}) was merged or closed and"
            " no longer exists. Enter the account's current branch code, for example the one printed in your"
            " passbook after the merger.",
        )
    raise _error(
        "branch_code_unknown",
        "branch_code",
        f"{bank.name}（{bank.code}）に店番号 {digits} の支店は見つかりません。"
        "通帳やキャッシュカードでご確認ください。",
        f"{bank.name} ({bank.code}) has no branch with the code {digits}. Check your passbook or cash card.",
    )


def account_number_check(number: str) -> str:
    """The account number as 7 digits, zero-padded on the left ("12345" → "0012345"), or a PortalError (422).

    1 to 7 digits, full-width accepted. All zeros is refused: no bank gives out account number 0000000.
    """
    digits = _digits(number)
    if not digits:
        raise _error(
            "account_number_invalid",
            "account_number",
            "口座番号（7桁までの数字）を入力してください。",
            "Enter the account number (up to 7 digits).",
        )
    if not (digits.isascii() and digits.isdigit()):
        ja_chars, en_chars = _non_digits(digits)
        raise _error(
            "account_number_invalid",
            "account_number",
            f"口座番号は数字だけで入力してください。数字以外の文字が含まれています: {ja_chars}",
            "Enter the account number in digits only."
            f" It contains characters that are not digits: {en_chars}",
        )
    if len(digits) > 7:
        raise _error(
            "account_number_invalid",
            "account_number",
            f"口座番号は7桁までの数字です（入力は{len(digits)}桁）。ゆうちょ銀行の記号・番号は、"
            "記号・番号の欄に入力してください。",
            f"The account number has at most 7 digits (you entered {len(digits)}). For a Japan Post Bank"
            " symbol and number, use the symbol and number fields.",
        )
    if digits.strip("0") == "":
        raise _error(
            "account_number_invalid",
            "account_number",
            "口座番号が正しくありません（すべて0です）。通帳やキャッシュカードでご確認ください。",
            "This account number is not valid (all zeros). Check your passbook or cash card.",
        )
    return digits.zfill(7)


def japan_post_convert(symbol: str, number: str) -> tuple[str, str, str]:
    """ゆうちょ銀行の記号・番号 → (branch code, account type, 7-digit account number) for transfers.

    Japan Post Bank's published rule: a 記号 starting with 1 (総合口座・通常貯金) gives the branch code
    記号's 2nd and 3rd digits + "8", type ordinary, and the 番号 without its last digit, which is always 1;
    a 記号 starting with 0 (振替口座) gives 2nd and 3rd digits + "9", type current, and the 番号. The
    記号・番号 alone cannot tell 通常貯蓄貯金 (savings) from 通常貯金; this returns ordinary for both.
    Refuses malformed input and a branch code that zengin-code does not list for 9900.
    """
    sym = _digits(symbol)
    if not (sym.isascii() and sym.isdigit() and len(sym) == 5):
        raise _error(
            "japan_post_symbol_invalid",
            "japan_post_symbol",
            "ゆうちょ銀行の記号は5桁の数字で入力してください（記号と番号の間に1桁の数字がある場合、"
            "その数字は入力しません）。",
            "The Japan Post Bank symbol is 5 digits (if a single digit stands between the symbol and the"
            " number, leave it out).",
        )
    if sym[0] not in "01":
        raise _error(
            "japan_post_symbol_invalid",
            "japan_post_symbol",
            "ゆうちょ銀行の記号は「1」（総合口座・通常貯金）か「0」（振替口座）で始まります。通帳でご確認ください。",
            "A Japan Post Bank symbol starts with 1 (ordinary savings) or 0 (transfer account). Check your"
            " passbook.",
        )
    num = _digits(number)
    if not num or not (num.isascii() and num.isdigit()):
        raise _error(
            "japan_post_number_invalid",
            "japan_post_number",
            "ゆうちょ銀行の番号は8桁までの数字で入力してください。",
            "Enter the Japan Post Bank number in digits (up to 8).",
        )
    if sym[0] == "1":
        if len(num) > 8:
            raise _error(
                "japan_post_number_invalid",
                "japan_post_number",
                f"ゆうちょ銀行の番号は8桁までです（入力は{len(num)}桁）。",
                f"The Japan Post Bank number has at most 8 digits (you entered {len(num)}).",
            )
        if not num.endswith("1") or len(num) < 2:
            raise _error(
                "japan_post_number_invalid",
                "japan_post_number",
                "記号が「1」で始まる口座の番号は、末尾が「1」の2桁から8桁の数字です。通帳でご確認ください。",
                "For a symbol starting with 1, the number is 2 to 8 digits ending in 1. Check your passbook.",
            )
        branch_code, account_type, account = sym[1:3] + "8", AccountType.ORDINARY, num[:-1]
    else:
        if len(num) > 7:
            raise _error(
                "japan_post_number_invalid",
                "japan_post_number",
                f"振替口座（記号が「0」で始まる口座）の番号は7桁までです（入力は{len(num)}桁）。",
                f"For a transfer account (symbol starting with 0) the number has at most 7 digits"
                f" (you entered {len(num)}).",
            )
        branch_code, account_type, account = sym[1:3] + "9", AccountType.CURRENT, num
    if account.strip("0") == "":
        raise _error(
            "japan_post_number_invalid",
            "japan_post_number",
            "ゆうちょ銀行の番号が正しくありません（口座番号がすべて0になります）。通帳でご確認ください。",
            "This Japan Post Bank number is not valid (the account number would be all zeros). Check your"
            " passbook.",
        )
    if branch_get(JAPAN_POST_BANK_CODE, branch_code) is None:
        raise _error(
            "japan_post_branch_unknown",
            "japan_post_symbol",
            f"記号 {sym} に当たるゆうちょ銀行の店番号 {branch_code} はありません。記号をご確認ください。",
            f"Japan Post Bank has no branch {branch_code}, which the symbol {sym} would give."
            " Check the symbol.",
        )
    return branch_code, account_type.value, account.zfill(7)
