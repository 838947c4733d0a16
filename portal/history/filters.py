"""The resident's filters on their history (period, kind of actor, category), parsed strictly.

Bad input is a PortalError with a message in both languages, never a 500 and never a silent default.
"""

import datetime as dt
from dataclasses import dataclass

from django.utils import timezone

from portal.core.categories import CATEGORIES
from portal.core.errors import PortalError
from portal.history.models import ActorType

MAX_RANGE_DAYS = 366 * 10  # the history is kept for ten years; a longer range asks for nothing more
EARLIEST = dt.date(2017, 1, 1)  # マイナポータル opened in 2017: nothing can be older


@dataclass(frozen=True)
class HistoryFilter:
    date_from: dt.date | None = None
    date_to: dt.date | None = None
    actor_type: str | None = None
    category: str | None = None

    @property
    def is_empty(self) -> bool:
        return not (self.date_from or self.date_to or self.actor_type or self.category)

    def as_query(self) -> dict[str, str]:
        query = {
            "from": self.date_from.isoformat() if self.date_from else "",
            "to": self.date_to.isoformat() if self.date_to else "",
            "actor": self.actor_type or "",
            "category": self.category or "",
        }
        return {key: value for key, value in query.items() if value}


def _bad(code: str, ja: str, en: str) -> PortalError:
    return PortalError(code=code, message_ja=ja, message_en=en, status=400)


def _date(value: str, name_ja: str, name_en: str) -> dt.date | None:
    if not value:
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError as exc:
        raise _bad(
            "bad_date",
            f"{name_ja}の日付は 2026-04-01 の形で入力してください。",
            f"Enter the {name_en} date as 2026-04-01.",
        ) from exc


def history_filter_parse(params: dict[str, str]) -> HistoryFilter:
    """From query parameters `from`, `to`, `actor`, `category` (all optional)."""
    date_from = _date(params.get("from", "").strip(), "開始", "start")
    date_to = _date(params.get("to", "").strip(), "終了", "end")
    today = timezone.localdate()
    if (date_from and date_from > today) or (date_to and date_to > today):
        raise _bad("future_date", "未来の日付は指定できません。", "Dates in the future cannot be used.")
    if date_from and date_from < EARLIEST:
        raise _bad(
            "too_early",
            "2017年1月1日より前の記録はありません。",
            "There are no records before 1 January 2017.",
        )
    if date_from and date_to and date_from > date_to:
        raise _bad(
            "reversed_range",
            "開始日が終了日より後になっています。",
            "The start date is after the end date.",
        )
    if date_from and date_to and (date_to - date_from).days > MAX_RANGE_DAYS:
        raise _bad(
            "range_too_long", "期間は10年以内で指定してください。", "Choose a period of ten years or less."
        )
    actor = params.get("actor", "").strip() or None
    if actor is not None and actor not in ActorType.values:
        raise _bad("unknown_actor", "利用者の種類が正しくありません。", "Unknown kind of actor.")
    category = params.get("category", "").strip() or None
    if category is not None and category not in CATEGORIES:
        raise _bad("unknown_category", "情報の種類が正しくありません。", "Unknown category.")
    return HistoryFilter(date_from=date_from, date_to=date_to, actor_type=actor, category=category)
