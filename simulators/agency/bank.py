"""口座名義確認: the banks' account-name check, as the simulator's ``bank-check`` service answers it.

The banks' accounts come from ``bank_account`` (and ``closed_bank_accounts``) in demo/people.json; a
holder's name is compared the way banks compare 口座名義 (half-width katakana, small kana made large,
long-vowel marks and spaces dropped, upper case). This module must never hand the name a bank holds to
anyone: the answer says only whether it matched.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable
from typing import Any, Literal

from .store import BankAccountRow

#: The service's id in demo/agencies.json; it serves no self-information and knows nobody by agency code.
BANK_CHECK_AGENCY_ID = "bank-check"

ACCOUNT_TYPES = ("ordinary", "current", "savings")  # 普通, 当座, 貯蓄
CheckResult = Literal["match", "name_mismatch", "no_account", "account_closed"]

# Small kana written large, as on a bank's books (ｷﾔﾉﾝ for キャノン).
_LARGE = str.maketrans(
    "ァィゥェォッャュョヮヵヶㇰㇱㇲㇳㇴㇵㇶㇷㇸㇹㇺㇻㇼㇽㇾㇿ",
    "アイウエオツヤユヨワカケクシストヌハヒフヘホムラリルレロ",
)
# Dropped: separators between family and given name, and the long-vowel mark with the dashes typed for it.
_DROPPED = frozenset("・ー-‐‑‒–—―−")  # and every space
# Kana that half-width katakana cannot write, replaced as banks do.
_OLD_KANA = str.maketrans("ヰヱ", "イエ")
_VOICED, _SEMI_VOICED = "\u3099", "\u309a"  # combining dakuten and handakuten


def _half_width_table() -> dict[str, str]:
    """Full-width katakana -> half-width, derived from Unicode's own compatibility mappings."""
    table = {}
    for code in range(0xFF61, 0xFFA0):
        half = chr(code)
        table.setdefault(unicodedata.normalize("NFKC", half), half)
    table[_VOICED], table[_SEMI_VOICED] = "\uff9e", "\uff9f"  # ﾞ ﾟ
    return table


_HALF_WIDTH = _half_width_table()


def _to_katakana(text: str) -> str:
    # ぁ..ゖ and ゝゞ sit 0x60 below their katakana.
    return "".join(chr(ord(c) + 0x60) if "ぁ" <= c <= "ゖ" or c in "ゝゞ" else c for c in text)


def bank_name_key(name: str) -> str:
    """The form in which a bank compares two holder names: equal keys, same 口座名義.

    NFKC first (half-width kana to full-width with their voicing marks composed, full-width Latin letters
    and spaces to ASCII), then hiragana to katakana, small kana large, separators and long-vowel marks
    dropped, upper case, and finally half-width katakana with the voicing marks as separate characters.
    """
    text = _to_katakana(unicodedata.normalize("NFKC", name))
    text = "".join(c for c in text.translate(_LARGE) if not (c.isspace() or c in _DROPPED))
    text = unicodedata.normalize("NFD", text.upper()).translate(_OLD_KANA)  # ガ -> カ + dakuten, as ｶﾞ
    return "".join(_HALF_WIDTH.get(c, c) for c in text)


def check_result(account: BankAccountRow | None, holder_kana: str) -> CheckResult:
    """The bank's answer for the account asked about and the name the portal was given."""
    if account is None:
        return "no_account"
    if account.closed:
        return "account_closed"
    return "match" if bank_name_key(holder_kana) == bank_name_key(account.holder_kana) else "name_mismatch"


def _account(entry: dict[str, Any], closed: bool) -> BankAccountRow:
    return BankAccountRow(
        bank_code=str(entry["bank_code"]),
        branch_code=str(entry["branch_code"]),
        account_type=str(entry["account_type"]),
        account_number=str(entry["account_number"]),
        holder_kana=str(entry["holder_kana"]),
        closed=closed,
    )


def seed_accounts(people: Iterable[dict[str, Any]]) -> list[BankAccountRow]:
    """The banks' accounts of the demo people: each one's ``bank_account``, and any closed ones."""
    accounts = []
    for person in people:
        if person.get("bank_account"):
            accounts.append(_account(person["bank_account"], closed=False))
        accounts += [_account(entry, closed=True) for entry in person.get("closed_bank_accounts", ())]
    for account in accounts:
        if account.account_type not in ACCOUNT_TYPES:
            raise ValueError(f"demo bank account of unknown type {account.account_type!r}")
    keys = [a.key for a in accounts]
    if len(set(keys)) != len(keys):
        raise ValueError("two demo bank accounts share bank, branch, type and number")
    return accounts
