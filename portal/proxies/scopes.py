"""What a proxy may be granted, one scope at a time (issue 7): each self-information category, the medical
data, reading and answering notices, the access history, viewing the public-fund account (never changing
it).

Codes never change; they are stored in grants and signed by the principal. A scope that cannot be used
without another (answering a notice means reading it first) brings that one with it when chosen, so the
principal signs, and the list shows, everything the proxy can do.
"""

from dataclasses import dataclass

from portal.core.categories import MEDICAL, SELF_INFORMATION


@dataclass(frozen=True)
class Scope:
    code: str
    label_ja: str
    label_en: str

    def label(self, language: str) -> str:
        return self.label_en if language == "en" else self.label_ja


MEDICAL_SCOPE = "medical"
NOTICES_READ = "notices_read"
NOTICES_ANSWER = "notices_answer"
HISTORY = "history"
ACCOUNT_VIEW = "account_view"

SCOPES: tuple[Scope, ...] = (
    *(
        Scope(f"myinfo:{c.code}", f"わたしの情報：{c.label_ja}を見る", f"view my information: {c.label_en}")
        for c in SELF_INFORMATION
    ),
    Scope(
        MEDICAL_SCOPE,
        "医療の情報（薬剤・健診・医療費）を見る",
        "view my medical data (medicines, checkups, expenses)",
    ),
    Scope(NOTICES_READ, "お知らせを読む", "read my notices"),
    Scope(
        NOTICES_ANSWER,
        "お知らせに回答する（読むことも含みます。署名は代理人ご自身のカードで）",
        "answer my notices (includes reading them; signed with the proxy's own card)",
    ),
    Scope(HISTORY, "アクセス記録を見る", "view my access history"),
    Scope(
        ACCOUNT_VIEW,
        "公金受取口座を見る（変更はできません）",
        "view my public-fund account (never change it)",
    ),
)
SCOPE_CODES = frozenset(s.code for s in SCOPES)
BY_CODE = {s.code: s for s in SCOPES}
MEDICAL_CATEGORIES = frozenset(c.code for c in MEDICAL)
# Scopes that are of no use without others: chosen, they bring those along.
IMPLIED: dict[str, tuple[str, ...]] = {NOTICES_ANSWER: (NOTICES_READ,)}


def scopes_with_implied(codes: list[str]) -> list[str]:
    """The scopes chosen and those they need, sorted and once each."""
    chosen = set(codes)
    for code in list(chosen):
        chosen.update(IMPLIED.get(code, ()))
    return sorted(chosen)


def scope_for_category(category: str) -> str:
    """The scope that lets a proxy see one category of my information."""
    return MEDICAL_SCOPE if category in MEDICAL_CATEGORIES else f"myinfo:{category}"


def scope_label(code: str, language: str) -> str:
    scope = BY_CODE.get(code)
    return scope.label(language) if scope else code
