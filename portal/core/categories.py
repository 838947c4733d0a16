"""The kinds of personal data the portal releases, with the names residents read (SPEC 5).

One list for every feature: the access history labels its records with it, "my information" its cards,
the consent API its scopes. Codes never change; labels may.
"""

from dataclasses import dataclass


@dataclass(frozen=True)
class Category:
    code: str
    label_ja: str
    label_en: str

    def label(self, language: str) -> str:
        return self.label_en if language == "en" else self.label_ja


SELF_INFORMATION = (
    Category("income_tax", "所得・住民税", "income and resident tax"),
    Category("household", "世帯", "household"),
    Category("pension", "年金", "pension"),
    Category("health_insurance", "医療保険の資格", "health insurance"),
    Category("vaccination", "予防接種", "vaccinations"),
    Category("child_allowance", "児童手当", "child allowance"),
    Category("long_term_care", "介護保険", "long-term care insurance"),
    Category("employment_insurance", "雇用保険", "employment insurance"),
    Category("disability", "障害者手帳", "disability certificate"),
)
MEDICAL = (
    Category("medical_drugs", "薬剤情報", "medicines dispensed"),
    Category("medical_checkups", "特定健診情報", "health checkups"),
    Category("medical_expenses", "医療費通知情報", "medical expenses"),
)
PORTAL_RECORDS = (
    Category("identity", "本人情報（氏名・マイナンバーなど）", "identity (name, My Number and such)"),
    Category("basic_four", "基本4情報（氏名・生年月日・性別・住所）", "name, birth date, sex and address"),
    Category("public_fund_account", "公金受取口座", "public-fund account"),
    Category("contact", "連絡先（メールアドレス）", "contact details (e-mail address)"),
    Category("notices", "お知らせ", "notices"),
    Category("access_history", "アクセス記録", "access history"),
    Category("provision_records", "情報提供等記録", "information-provision records"),
    Category("proxies", "代理人の登録", "proxy registration"),
)

CATEGORIES: dict[str, Category] = {c.code: c for c in (*SELF_INFORMATION, *MEDICAL, *PORTAL_RECORDS)}


def category_label(code: str, language: str) -> str:
    category = CATEGORIES.get(code)
    return category.label(language) if category else code
