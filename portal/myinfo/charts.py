"""Charts where looking beats reading (SPEC 8): medical expenses by month, checkup values by year.

Drawn on the server as SVG with presentation attributes only (no inline style, no script), so they obey
the Content Security Policy and show with JavaScript off. Every chart has a title and a text summary for
screen readers; the numbers are also in the table below each chart.
"""

from collections import defaultdict
from dataclasses import dataclass
from html import escape
from typing import Any

from django.utils.safestring import SafeString, mark_safe

from portal.myinfo.presentation import format_month, format_yen

WIDTH, HEIGHT = 640, 240
LEFT, RIGHT, TOP, BOTTOM = 80, 12, 16, 36
BAR = "#0017c1"  # design tokens: blue-900
SHARE = "#ff7628"  # orange-600: the co-payment within the total
BAND = "#c5f7e0"  # green-100: the reference range
LINE = "#1a1a1a"
AXIS = "#767676"
OUT = "#ce0000"  # red-900: a value outside the range

# The checkup items worth a chart, in the order residents look for them.
CHECKUP_ITEMS = (
    "systolic_bp",
    "diastolic_bp",
    "hba1c",
    "fasting_glucose",
    "ldl",
    "hdl",
    "triglycerides",
    "bmi",
)


@dataclass(frozen=True)
class Chart:
    title: str
    summary: str
    svg: SafeString


def _svg(title: str, body: str) -> SafeString:
    return mark_safe(  # noqa: S308 -- every text below is escaped; numbers are formatted by us
        f'<svg viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-label="{escape(title)}" '
        f'xmlns="http://www.w3.org/2000/svg" font-size="11" font-family="sans-serif">'
        f"<title>{escape(title)}</title>{body}</svg>"
    )


def axis_yen(amount: float, language: str) -> str:
    """A short amount for the axis, legible when a phone shrinks the chart: 12.5万円, ¥125k."""
    if amount < 10_000:
        return f"¥{amount:,.0f}" if language == "en" else f"{amount:,.0f}円"
    if language == "en":
        return f"¥{amount / 1000:,.0f}k"
    return f"{amount / 10_000:,.1f}".rstrip("0").rstrip(".") + "万円"


def _axis(max_value: float, language: str) -> str:
    bottom = HEIGHT - BOTTOM
    parts = [f'<line x1="{LEFT}" y1="{bottom}" x2="{WIDTH - RIGHT}" y2="{bottom}" stroke="{AXIS}"/>']
    for fraction in (0, 0.5, 1):
        y = bottom - fraction * (bottom - TOP)
        parts.append(
            f'<text x="{LEFT - 6}" y="{y + 4:.1f}" text-anchor="end" fill="{AXIS}">'
            f"{escape(axis_yen(max_value * fraction, language))}</text>"
        )
    return "".join(parts)


def _bar(x: float, width: float, bottom: float, height: float, colour: str) -> str:
    top = bottom - height
    return f'<rect x="{x:.1f}" y="{top:.1f}" width="{width:.1f}" height="{height:.1f}" fill="{colour}"/>'


def medical_expenses_chart(data: dict[str, Any], language: str) -> Chart | None:
    totals: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for record in data.get("records", []):
        month = totals[record["service_month"]]
        month[0] += record["total_yen"]
        month[1] += record["copayment_yen"]
    if not totals:
        return None
    months = sorted(totals)[-36:]
    peak = max(totals[m][0] for m in months) or 1
    step = (WIDTH - LEFT - RIGHT) / len(months)
    bottom = HEIGHT - BOTTOM
    height = bottom - TOP
    bars = []
    for index, month in enumerate(months):
        total, share = totals[month]
        x = LEFT + index * step + step * 0.15
        w = step * 0.7
        h_total = height * total / peak
        h_share = height * share / peak
        year, number = (int(p) for p in month.split("-"))
        tip = f"{format_month(year, number, language)}: {format_yen(total, language)}"
        bars.append(
            f"<g><title>{escape(tip)}</title>"
            f"{_bar(x, w, bottom, h_total, BAR)}{_bar(x, w, bottom, h_share, SHARE)}</g>"
        )
        # Each January is labelled with its year, and the first month too unless a January follows closely.
        if number == 1 or (index == 0 and number < 10):
            bars.append(f'<text x="{x:.1f}" y="{bottom + 14}" fill="{AXIS}">{year}</text>')
    title = "医療費の推移（月別）" if language != "en" else "Medical expenses by month"
    highest = max(months, key=lambda m: totals[m][0])
    year, number = (int(p) for p in highest.split("-"))
    summary = (
        f"{len(months)}か月分。最も多いのは{format_month(year, number, language)}の"
        f"{format_yen(totals[highest][0], language)}。濃い青は総額、橙は自己負担相当額。"
        if language != "en"
        else f"{len(months)} months. Highest: {format_month(year, number, language)}, "
        f"{format_yen(totals[highest][0], language)}. Blue is the total cost, orange your share."
    )
    return Chart(title=title, summary=summary, svg=_svg(title, _axis(peak, language) + "".join(bars)))


def _checkup_chart(code: str, points: list[tuple[int, dict[str, Any]]], language: str) -> Chart:
    name, unit = points[-1][1]["name"], points[-1][1]["unit"]
    reference = points[-1][1].get("reference") or {}
    values = [p[1]["value"] for p in points]
    bounds = [b for b in (reference.get("lower"), reference.get("upper")) if b is not None]
    top_value = max(values + bounds) * 1.15 or 1
    low_value = min(values + bounds) * 0.85
    bottom = HEIGHT - BOTTOM
    span = top_value - low_value or 1

    def y(value: float) -> float:
        return bottom - (value - low_value) / span * (bottom - TOP)

    step = (WIDTH - LEFT - RIGHT) / max(len(points), 1)
    parts = []
    if bounds:
        upper = reference.get("upper") if reference.get("upper") is not None else top_value
        lower = reference.get("lower") if reference.get("lower") is not None else low_value
        parts.append(
            f'<rect x="{LEFT}" y="{y(upper):.1f}" width="{WIDTH - LEFT - RIGHT}" '
            f'height="{max(y(lower) - y(upper), 0):.1f}" fill="{BAND}"/>'
        )
    coordinates = [(LEFT + step * (i + 0.5), y(v)) for i, v in enumerate(values)]
    parts.append(
        '<polyline fill="none" stroke="{}" stroke-width="2" points="{}"/>'.format(
            LINE, " ".join(f"{x:.1f},{yy:.1f}" for x, yy in coordinates)
        )
    )
    for (year, result), (x, yy) in zip(points, coordinates, strict=True):
        colour = OUT if result.get("flag") in ("high", "low") else LINE
        parts.append(f'<circle cx="{x:.1f}" cy="{yy:.1f}" r="5" fill="{colour}"/>')
        parts.append(f'<text x="{x:.1f}" y="{yy - 9:.1f}" text-anchor="middle">{result["value"]:g}</text>')
        parts.append(f'<text x="{x:.1f}" y="{bottom + 14}" text-anchor="middle" fill="{AXIS}">{year}</text>')
    parts.append(f'<line x1="{LEFT}" y1="{bottom}" x2="{WIDTH - RIGHT}" y2="{bottom}" stroke="{AXIS}"/>')
    parts.append(f'<text x="{LEFT - 6}" y="{TOP + 10}" text-anchor="end" fill="{AXIS}">{escape(unit)}</text>')
    title = f"{name}（年度別）" if language != "en" else f"{name} by year"
    latest_year, latest = points[-1]
    range_text = reference.get("text", "")
    summary = (
        f"{latest_year}年度は{latest['value']:g}{unit}。基準範囲は{range_text}（緑の帯）。赤い点は範囲外。"
        if language != "en"
        else f"{latest_year}: {latest['value']:g} {unit}. Reference range {range_text} (green band); "
        "red points are outside it."
    )
    return Chart(title=title, summary=summary, svg=_svg(title, "".join(parts)))


def medical_checkups_charts(data: dict[str, Any], language: str) -> list[Chart]:
    series: dict[str, list[tuple[int, dict[str, Any]]]] = defaultdict(list)
    for checkup in sorted(data.get("checkups", []), key=lambda c: c["fiscal_year"]):
        for result in checkup.get("results", []):
            series[result["code"]].append((checkup["fiscal_year"], result))
    return [_checkup_chart(code, series[code], language) for code in CHECKUP_ITEMS if len(series[code]) >= 2]


def charts_for(category: str, data: dict[str, Any], language: str) -> list[Chart]:
    if category == "medical_expenses":
        chart = medical_expenses_chart(data, language)
        return [chart] if chart else []
    if category == "medical_checkups":
        return medical_checkups_charts(data, language)
    return []
