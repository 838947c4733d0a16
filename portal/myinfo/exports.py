"""The resident's download of their information: JSON with a documented schema (docs/myinfo-export.md)
and a PDF to print. Each category included is recorded in the access history before anything is read."""

import datetime as dt
import json
from collections.abc import Iterator
from zoneinfo import ZoneInfo

from django.http import StreamingHttpResponse
from django.utils import timezone

from portal.core.pdf import A4, PdfPage, PdfWriter, wrap_text
from portal.history.models import Channel
from portal.history.services import Actor, release_record
from portal.identity.models import Resident
from portal.myinfo import selectors
from portal.myinfo.presentation import Node, build_node, format_date

FORMATS = ("json", "pdf")
JSON_SCHEMA = "myna-portal:myinfo-export:v1"
JST = ZoneInfo("Asia/Tokyo")


def _held(resident: Resident, now: dt.datetime) -> list[selectors.CategoryStatus]:
    return [s for s in selectors.myinfo_overview(resident=resident, now=now) if s.has_data]


def myinfo_export_response(*, resident: Resident, fmt: str, language: str) -> StreamingHttpResponse:
    now = timezone.now()
    statuses = _held(resident, now)
    # Log before release: one record per category the file will hold, committed before any is read.
    for status in statuses:
        release_record(
            owner=resident,
            actor=Actor.for_resident(resident),
            category=status.category,
            items=["all"],
            purpose="myinfo_export",
            channel=Channel.EXPORT,
        )
    stamp = now.astimezone(JST).strftime("%Y%m%d")
    if fmt == "json":
        response = StreamingHttpResponse(
            _json(resident, statuses, now, language), content_type="application/json"
        )
    else:
        response = StreamingHttpResponse(
            _pdf(resident, statuses, now, language), content_type="application/pdf"
        )
    response["Content-Disposition"] = f'attachment; filename="my-information-{stamp}.{fmt}"'
    response["Cache-Control"] = "no-store"
    return response


def _json(resident: Resident, statuses, now: dt.datetime, language: str) -> Iterator[bytes]:
    head = {
        "schema": JSON_SCHEMA,
        "generated_at": now.astimezone(JST).isoformat(timespec="seconds"),
        "language": language,
        "resident": {"name": resident.name},
    }
    yield json.dumps(head, ensure_ascii=False)[:-1].encode() + b', "categories": ['
    for index, status in enumerate(statuses):
        data = selectors.myinfo_payload(resident=resident, category=status.category, now=now)
        entry = {
            "category": status.category,
            "label": status.label(language),
            "agency": {"id": status.agency_id, "name": status.agency_name(language)},
            "as_of": status.as_of.isoformat() if status.as_of else None,
            "data": data,
        }
        yield (b", " if index else b"") + json.dumps(entry, ensure_ascii=False).encode()
    yield b"]}"


def _lines(node: Node, indent: str = "") -> Iterator[str]:
    """The tree as printable lines: "label: value", one line per table row."""
    if node.kind == "text":
        yield indent + node.text
    elif node.kind == "fields":
        for name, child in node.fields:
            if child.kind == "text":
                yield f"{indent}{name}: {child.text}"
            else:
                yield f"{indent}{name}"
                yield from _lines(child, indent + "  ")
    elif node.kind == "table":
        for row in node.rows:
            yield indent + " / ".join(f"{h}: {v}" for h, v in zip(node.headers, row, strict=True) if v != "—")
    else:
        for item in node.items:
            yield from _lines(item, indent + "・")


def _pdf(resident: Resident, statuses, now: dt.datetime, language: str) -> Iterator[bytes]:
    width, height = A4
    left, right, top, bottom = 48, width - 48, height - 56, 56
    en = language == "en"
    title = "My information" if en else "わたしの情報"
    writer = PdfWriter(size=A4, form_name="Total")
    page, y = PdfPage(), top

    def finish_page() -> None:
        page.text_right(width / 2, 32, f"{writer.page_count + 1} / ", 8)
        page.form("Total", width / 2, 32)
        page.text_right(right, 32, title, 8)
        writer.add_page(page)

    def write(text: str, size: float) -> Iterator[bytes]:
        nonlocal page, y
        for line in wrap_text(text, right - left, size) or [""]:
            if y - size * 1.5 < bottom:
                finish_page()
                yield writer.take()
                page, y = PdfPage(), top
            y -= size * 1.5
            page.text(left, y, line, size)

    yield from write(title, 16)
    made = format_date(now.astimezone(JST).date(), language)
    yield from write(f"{resident.name}  ({'made on' if en else '作成日'} {made})", 10)
    if not statuses:
        yield from write(
            "No information is held at present." if en else "現在お預かりしている情報はありません。", 10
        )
    for status in statuses:
        data = selectors.myinfo_payload(resident=resident, category=status.category, now=now)
        if data is None:
            continue
        y -= 8
        yield from write(f"■ {status.label(language)} — {status.agency_name(language)}", 12)
        if status.as_of:
            as_of = format_date(status.as_of.astimezone(JST).date(), language)
            yield from write(f"{'As of' if en else '時点'}: {as_of}", 8)
        for line in _lines(build_node(data, language)):
            yield from write(line, 9)
    finish_page()
    total = PdfPage()
    total.text(0, 0, str(writer.page_count), 8)
    writer.close(form=total, form_box=(60, 12), title=title, language=language)
    yield writer.take()
