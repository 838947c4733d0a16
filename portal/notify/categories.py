"""What a resident can be told about, by category, and the kinds of message that tell them.

Notices carry the category codes the agencies give them; "release_alert" is the access history's
"someone read your data". Codes never change (preferences store them); labels may.
"""

from django.utils.translation import gettext_lazy as _

#: Category codes with the labels residents read on /settings/notifications/, in that order.
NOTIFY_CATEGORIES: dict[str, str] = {
    "tax": _("税"),
    "welfare": _("福祉"),
    "child": _("子育て"),
    "health": _("健康・医療"),
    "pension": _("年金"),
    "general": _("その他のお知らせ"),
    "release_alert": _("あなたの情報が利用されたとき（アクセス記録）"),
}
CATEGORY_CODES = tuple(NOTIFY_CATEGORIES)

#: What the message says, in each language, by kind. Never more than that something arrived: no name,
#: no sender, no title, no amount (a lock screen or a mailbox is not the portal).
KIND_TEXTS: dict[str, dict[str, str]] = {
    "notice": {"ja": "新しいお知らせがあります", "en": "You have a new notice"},
    "reminder": {"ja": "期限が近いお知らせがあります", "en": "A notice is nearing its deadline"},
    "release_alert": {
        "ja": "アクセス記録に新しいお知らせがあります",
        "en": "There is a new alert in your access history",
    },
}
KINDS = tuple(KIND_TEXTS)
TITLE = {"ja": "マイナポータル", "en": "Myna Portal"}


def kind_text(kind: str, language: str) -> str:
    texts = KIND_TEXTS[kind]
    return texts["en"] if language == "en" else texts["ja"]


def title_text(language: str) -> str:
    return TITLE["en"] if language == "en" else TITLE["ja"]
