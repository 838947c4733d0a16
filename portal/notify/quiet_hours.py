"""Quiet hours: wall-clock times in Asia/Tokyo during which pushes wait. They may span midnight."""

import datetime as dt
from zoneinfo import ZoneInfo

JST = ZoneInfo("Asia/Tokyo")


def quiet_until(*, at: dt.datetime, start: dt.time | None, end: dt.time | None) -> dt.datetime | None:
    """When the quiet hours around `at` end, or None when `at` is not inside them."""
    if start is None or end is None or start == end:
        return None
    local = at.astimezone(JST)
    clock = local.time().replace(tzinfo=None)
    # 22:00-07:00 spans midnight: from the start to midnight, and from midnight to the end.
    inside = start <= clock < end if start < end else clock >= start or clock < end
    if not inside:
        return None
    day = local.date() if clock < end else local.date() + dt.timedelta(days=1)
    return dt.datetime.combine(day, end, tzinfo=JST)
