"""How a release record reads to a resident: one plain sentence in Japanese or English.

"さくら銀行が、住宅ローンの審査のため、あなたの所得・住民税を取得しました。" /
"Sakura Bank received your income and resident tax for a mortgage application."
"""

from dataclasses import dataclass

from portal.core.categories import category_label
from portal.history.models import ActorType, Channel, ReleaseRecord

# Purposes the portal itself records, by code; firms' and agencies' purposes are stored as their text.
PURPOSES: dict[str, tuple[str, str]] = {
    "dashboard": ("トップページの表示", "showing your home page"),
    "myinfo_view": ("わたしの情報の表示", "showing your information"),
    "myinfo_export": ("わたしの情報のダウンロード", "downloading your information"),
    "history_view": ("アクセス記録の表示", "showing your access history"),
    "history_export": ("アクセス記録のダウンロード", "downloading your access history"),
    "notice_view": ("お知らせの表示", "showing a notice"),
    "support": ("お問い合わせへの対応", "answering a support request"),
    "notification_settings": ("通知の設定の表示", "showing your notification settings"),
    "mislink_report": (
        "別の方の情報と思われる記録の報告（誤登録の連絡）",
        "reporting a record that seems to be someone else's",
    ),
    "mislink_review": ("誤登録の疑いがある記録の確認", "reviewing a record that may be someone else's"),
    "public_fund_account": ("公金受取口座の表示", "showing your public-fund account"),
    "proxy_registration": (
        "医療保険者への代理人の登録（代理人が医療の情報を取得するため）",
        "registering your proxy with the medical insurer, so that they can fetch your medical data",
    ),
    "proxy_withdrawal": (
        "医療保険者への代理人の登録の取消",
        "withdrawing your proxy's registration with the medical insurer",
    ),
    "proxy_registration_as_proxy": (
        "代理人としての医療保険者への登録",
        "registering you as someone's proxy with the medical insurer",
    ),
    "account_review": (
        "他の方と同じ口座が登録された公金受取口座の確認",
        "reviewing a public-fund account also registered by someone else",
    ),
}

VERBS: dict[str, tuple[str, str]] = {
    Channel.WEB: ("画面に表示", "viewed"),
    Channel.EXPORT: ("ダウンロード", "downloaded"),
    Channel.FIRM_API: ("取得", "received"),
    Channel.AGENCY_API: ("照会", "looked up"),
    Channel.ADMIN: ("閲覧", "viewed"),
    Channel.NOTIFICATION: ("通知に表示", "showed in a notification"),
}


def actor_text(record: ReleaseRecord, language: str) -> str:
    en = language == "en"
    if record.actor_type == ActorType.RESIDENT:
        return "You" if en else "ご本人"
    if record.actor_type == ActorType.PROXY:
        return f"Your proxy {record.actor_label}" if en else f"代理人の{record.actor_label}さん"
    if record.actor_type == ActorType.STAFF:
        return f"Portal staff ({record.actor_label})" if en else f"ポータル職員（{record.actor_label}）"
    return record.actor_label


def purpose_text(purpose: str, language: str) -> str:
    known = PURPOSES.get(purpose)
    if known is None:
        return purpose
    return known[1] if language == "en" else known[0]


# A proxy on the agency channel is not looked up by the agency: the proxy sent (an answer) to it.
PROXY_TO_AGENCY = ("行政機関に送信", "sent", " to an agency")
# What the portal itself sends an agency, unasked: the agency received it, it did not look it up.
SENT_BY_THE_PORTAL = frozenset({"proxy_registration", "proxy_registration_as_proxy", "proxy_withdrawal"})
RECEIVED = ("受領", "received")


def describe(record: ReleaseRecord, language: str) -> str:
    """The plain-language line for one record."""
    verb_ja, verb_en = VERBS.get(record.channel, ("利用", "used"))
    where_en = ""
    if record.actor_type == ActorType.PROXY and record.channel == Channel.AGENCY_API:
        verb_ja, verb_en, where_en = PROXY_TO_AGENCY
    elif record.channel == Channel.AGENCY_API and record.purpose in SENT_BY_THE_PORTAL:
        verb_ja, verb_en = RECEIVED
    actor = actor_text(record, language)
    category = category_label(record.category, language)
    purpose = purpose_text(record.purpose, language)
    if language == "en":
        subject = "your" if record.actor_type != ActorType.RESIDENT else "your own"
        sentence = f"{actor} {verb_en} {subject} {category}{where_en}"
        return f"{sentence} for {purpose}." if purpose else f"{sentence}."
    purpose_part = f"{purpose}のため、" if purpose else ""
    whose = "" if record.actor_type == ActorType.RESIDENT else "あなたの"
    return f"{actor}が、{purpose_part}{whose}{category}を{verb_ja}しました。"


@dataclass(frozen=True)
class RecordLine:
    """What the history page, the exports and the alerts show of one record."""

    seq: int
    occurred_at: object
    actor_type: str
    actor: str
    category: str
    items: list
    purpose: str
    legal_basis: str
    channel: str
    sentence: str


def record_line(record: ReleaseRecord, language: str) -> RecordLine:
    return RecordLine(
        seq=record.seq,
        occurred_at=record.occurred_at,
        actor_type=record.actor_type,
        actor=actor_text(record, language),
        category=category_label(record.category, language),
        items=list(record.items),
        purpose=purpose_text(record.purpose, language),
        legal_basis=record.legal_basis,
        channel=record.channel,
        sentence=describe(record, language),
    )
