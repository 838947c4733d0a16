"""What a firm may ask for: `openid`, the basic four items one by one, and each data category (SPEC 5)."""

from portal.core.categories import MEDICAL, SELF_INFORMATION

OPENID = "openid"
BASIC_ITEMS = {
    "name": ("氏名", "name"),
    "birth_date": ("生年月日", "date of birth"),
    "sex": ("性別", "sex"),
    "address": ("住所", "address"),
}
CATEGORY_SCOPES = {c.code: (c.label_ja, c.label_en) for c in (*SELF_INFORMATION, *MEDICAL)}
MEDICAL_SCOPES = frozenset(c.code for c in MEDICAL)
DATA_SCOPES = {**BASIC_ITEMS, **CATEGORY_SCOPES}
SCOPES_SUPPORTED = [OPENID, *DATA_SCOPES]
# Periodic access to medical data lasts at most 90 days, as on Myna Portal.
MEDICAL_PERIODIC_MAX_DAYS = 90
# The history's category for the basic items, released together through /api/v1/userinfo.
BASIC_CATEGORY = "basic_four"


def scope_label(scope: str, language: str) -> str:
    ja, en = DATA_SCOPES.get(scope, (scope, scope))
    return en if language == "en" else ja


def pulled_categories(scopes: list[str]) -> set[str]:
    """What a one-time consent's pulls must cover before it is used up: its categories and the basics."""
    wanted = {s for s in scopes if s in CATEGORY_SCOPES}
    if any(s in BASIC_ITEMS for s in scopes):
        wanted.add(BASIC_CATEGORY)
    return wanted
