"""The kinds of notice an agency may send, with the names residents read and filter by.

Agencies send the code; the list is fixed so that every inbox can offer the same filter and every
resident's notification preferences (portal.notify) can name the same kinds. Codes never change.
"""

from portal.core.categories import Category

NOTICE_CATEGORIES = (
    Category("tax", "税金", "tax"),
    Category("pension", "年金", "pension"),
    Category("health", "医療・健康", "health and medical care"),
    Category("vaccination", "予防接種", "vaccinations"),
    Category("child", "子育て", "children and child care"),
    Category("welfare", "福祉", "welfare"),
    Category("care", "介護", "long-term care"),
    Category("employment", "雇用・労働", "employment"),
    Category("benefit", "給付金", "benefits and payments"),
    Category("disaster", "防災・災害", "disasters and safety"),
    Category("procedure", "手続のご案内", "procedures"),
    Category("general", "その他のお知らせ", "other notices"),
)

NOTICE_CATEGORY_CODES = frozenset(c.code for c in NOTICE_CATEGORIES)
_BY_CODE = {c.code: c for c in NOTICE_CATEGORIES}


def notice_category_label(code: str, language: str) -> str:
    category = _BY_CODE.get(code)
    return category.label(language) if category else code
