"""The resident's download of their access history as CSV, JSON or PDF (SPEC 2.3: they can read all of it).

The download is recorded in the history before a byte of it is produced, and rows come from the database
in chunks, so a history of any length never sits in memory. It never shows what the resident may not yet
see (deferred records before their date): it reads only through selectors.resident_release_list.
"""

import csv
import datetime as dt
import io
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from django.http import StreamingHttpResponse
from django.utils import timezone, translation

from portal.core.categories import category_label
from portal.core.pdf import A4, PdfPage, PdfWriter, wrap_text
from portal.history import selectors
from portal.history.filters import HistoryFilter
from portal.history.models import ActorType, Channel, ReleaseRecord
from portal.history.presentation import record_line
from portal.history.services import Actor, release_record
from portal.identity.models import Resident

JST = ZoneInfo("Asia/Tokyo")
FORMATS = ("csv", "json", "pdf")
JSON_SCHEMA = "myna-portal:history-export:v1"
CHUNK_ROWS = 2000  # rows fetched from the database at a time
CHUNK_BYTES = 64 * 1024  # bytes handed to the server at a time

# (key, Japanese heading, English heading): the columns of the CSV, in order.
COLUMNS: tuple[tuple[str, str, str], ...] = (
    ("seq", "番号", "No."),
    ("time", "日時", "Time"),
    ("actor_type", "利用者の種類", "Kind of user"),
    ("actor", "利用者", "User"),
    ("category", "情報の種類", "Information"),
    ("items", "項目", "Items"),
    ("purpose", "目的", "Purpose"),
    ("legal_basis", "根拠", "Legal basis"),
    ("channel", "経路", "Channel"),
    ("sentence", "内容", "What happened"),
)


@dataclass(frozen=True)
class ExportRow:
    """One record as every format shows it: codes for machines, words in the chosen language for people."""

    seq: int
    time: str
    actor_type: str
    actor_type_label: str
    actor: str
    category: str
    category_label: str
    items: list[str]
    purpose: str
    legal_basis: str
    channel: str
    channel_label: str
    sentence: str


def _choice_label(choices: type[ActorType] | type[Channel], value: str, language: str) -> str:
    try:
        label = choices(value).label
    except ValueError:
        return value
    with translation.override(language):
        return str(label)


def _jst(moment: dt.datetime) -> str:
    return moment.astimezone(JST).isoformat(timespec="seconds")


def _export_row(record: ReleaseRecord, language: str) -> ExportRow:
    line = record_line(record, language)
    return ExportRow(
        seq=line.seq,
        time=_jst(record.occurred_at),
        actor_type=record.actor_type,
        actor_type_label=_choice_label(ActorType, record.actor_type, language),
        actor=line.actor,
        category=record.category,
        category_label=category_label(record.category, language),
        items=[str(item) for item in line.items],
        purpose=line.purpose,
        legal_basis=line.legal_basis,
        channel=record.channel,
        channel_label=_choice_label(Channel, record.channel, language),
        sentence=line.sentence,
    )


def _rows(*, resident: Resident, history_filter: HistoryFilter, language: str) -> Iterator[ExportRow]:
    records = selectors.resident_release_list(owner=resident, history_filter=history_filter)
    for record in records.iterator(chunk_size=CHUNK_ROWS):
        yield _export_row(record, language)


def _in_chunks(pieces: Iterable[bytes]) -> Iterator[bytes]:
    """Joins small pieces into chunks of about CHUNK_BYTES: fewer, larger writes to the client."""
    buffer: list[bytes] = []
    size = 0
    for piece in pieces:
        buffer.append(piece)
        size += len(piece)
        if size >= CHUNK_BYTES:
            yield b"".join(buffer)
            buffer, size = [], 0
    if buffer:
        yield b"".join(buffer)


# --- CSV -------------------------------------------------------------------------------------------------

# A spreadsheet runs a cell that starts with one of these as a formula (CSV injection); a leading
# apostrophe makes it text. Tab and carriage return are on OWASP's list too.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def csv_cell(value: object) -> str:
    text = str(value)
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def _csv_pieces(rows: Iterable[ExportRow], language: str) -> Iterator[bytes]:
    buffer = io.StringIO()
    # RFC 4180: CRLF line ends, fields quoted when they hold a comma, a quote or a line break.
    writer = csv.writer(buffer, lineterminator="\r\n", quoting=csv.QUOTE_MINIMAL)
    heading = 2 if language == "en" else 1
    writer.writerow([column[heading] for column in COLUMNS])
    yield "\ufeff".encode() + buffer.getvalue().encode()  # the BOM: Excel in Japan reads UTF-8 only with it
    for row in rows:
        buffer.seek(0)
        buffer.truncate()
        writer.writerow(
            [
                row.seq,
                row.time,
                csv_cell(row.actor_type_label),
                csv_cell(row.actor),
                csv_cell(row.category_label),
                csv_cell(", ".join(row.items)),
                csv_cell(row.purpose),
                csv_cell(row.legal_basis),
                csv_cell(row.channel_label),
                csv_cell(row.sentence),
            ]
        )
        yield buffer.getvalue().encode()


# --- JSON ------------------------------------------------------------------------------------------------


def _json_pieces(
    rows: Iterable[ExportRow],
    *,
    resident: Resident,
    history_filter: HistoryFilter,
    language: str,
    generated_at: dt.datetime,
    export_seq: int,
) -> Iterator[bytes]:
    """One JSON document written as it goes: header, records, count (described in docs/history-export.md)."""
    head = {
        "schema": JSON_SCHEMA,
        "language": language,
        "resident": {"name": resident.name},
        "generated_at": _jst(generated_at),
        "export_record_seq": export_seq,
        "filter": {
            "from": history_filter.date_from.isoformat() if history_filter.date_from else None,
            "to": history_filter.date_to.isoformat() if history_filter.date_to else None,
            "actor_type": history_filter.actor_type,
            "category": history_filter.category,
        },
    }
    opening = json.dumps(head, ensure_ascii=False, separators=(",", ":"))
    yield (opening[:-1] + ',"records":[').encode()
    count = 0
    for row in rows:
        record = {
            "seq": row.seq,
            "time": row.time,
            "actor_type": row.actor_type,
            "actor_type_label": row.actor_type_label,
            "actor": row.actor,
            "category": row.category,
            "category_label": row.category_label,
            "items": row.items,
            "purpose": row.purpose,
            "legal_basis": row.legal_basis,
            "channel": row.channel,
            "channel_label": row.channel_label,
            "sentence": row.sentence,
        }
        separator = "\n" if count == 0 else ",\n"
        yield (separator + json.dumps(record, ensure_ascii=False, separators=(",", ":"))).encode()
        count += 1
    yield f'\n],"record_count":{count}}}\n'.encode()


# --- PDF -------------------------------------------------------------------------------------------------

PDF_TEXTS: dict[str, tuple[str, str]] = {
    "title": ("アクセス記録", "Access history"),
    "name": ("氏名", "Name"),
    "period": ("期間", "Period"),
    "all": ("すべて", "All"),
    "since": ("{0} から", "from {0}"),
    "until": ("{0} まで", "until {0}"),
    "actor_type": ("利用者の種類", "Kind of user"),
    "category": ("情報の種類", "Information"),
    "generated": ("作成日時", "Generated"),
    "time": ("日時", "Time"),
    "what": ("内容", "What happened"),
    "channel": ("経路", "Channel"),
    "none": ("条件に合う記録はありません。", "No records match."),
    "note": (
        "この記録は改ざんを検知できる形で保存されています。",
        "This history is stored so that any change to it can be detected.",
    ),
}


def _pdf_text(key: str, language: str) -> str:
    ja, en = PDF_TEXTS[key]
    return en if language == "en" else ja


def _pdf_header_lines(
    *, resident: Resident, history_filter: HistoryFilter, language: str, generated_at: dt.datetime
) -> list[str]:
    def text(key: str) -> str:
        return _pdf_text(key, language)

    f = history_filter
    if f.date_from and f.date_to:
        period = f"{f.date_from.isoformat()} 〜 {f.date_to.isoformat()}"
    elif f.date_from:
        period = text("since").format(f.date_from.isoformat())
    elif f.date_to:
        period = text("until").format(f.date_to.isoformat())
    else:
        period = text("all")
    lines = [f"{text('name')}: {resident.name}", f"{text('period')}: {period}"]
    if f.actor_type:
        lines.append(f"{text('actor_type')}: {_choice_label(ActorType, f.actor_type, language)}")
    if f.category:
        lines.append(f"{text('category')}: {category_label(f.category, language)}")
    lines.append(f"{text('generated')}: {generated_at.astimezone(JST):%Y-%m-%d %H:%M:%S} (JST)")
    return lines


@dataclass(frozen=True)
class _Layout:
    """A4 portrait, in points; the table has three columns: time, what happened, channel."""

    width: float = A4[0]
    height: float = A4[1]
    margin: float = 42.0
    size: float = 8.5
    leading: float = 11.0
    padding: float = 3.0
    time_width: float = 70.0
    channel_width: float = 80.0

    @property
    def what_width(self) -> float:
        return self.width - 2 * self.margin - self.time_width - self.channel_width


def pdf_chunks(rows: Iterable[ExportRow], *, header_lines: list[str], language: str) -> Iterator[bytes]:
    """Draws the history as a table on A4 pages, yielding the PDF's bytes as each page is done."""
    layout = _Layout()
    writer = PdfWriter(size=(layout.width, layout.height), form_name="Total")
    left, right = layout.margin, layout.width - layout.margin
    x_what = left + layout.time_width
    x_channel = x_what + layout.what_width
    bottom = layout.margin + 16
    footer_y = layout.margin - 4
    title = _pdf_text("title", language)
    page = PdfPage()
    y = 0.0

    def start_page() -> None:
        nonlocal y
        y = layout.height - layout.margin
        if writer.page_count == 0:
            page.text(left, y - 16, title, 16)
            y -= 30
            for line in header_lines:
                page.text(left, y - 9, line, 9)
                y -= 13
            page.text(left, y - 8, _pdf_text("note", language), 7.5)
            y -= 20
        height = layout.leading + 2 * layout.padding
        page.box(left, y - height, right - left, height, gray=0.9)
        baseline = y - layout.padding - layout.size
        page.text(left + layout.padding, baseline, _pdf_text("time", language), layout.size)
        page.text(x_what + layout.padding, baseline, _pdf_text("what", language), layout.size)
        page.text(x_channel + layout.padding, baseline, _pdf_text("channel", language), layout.size)
        page.line(left, y - height, right, y - height, 0.6)
        y -= height

    def finish_page() -> None:
        # "n / N": N is a form drawn on every page and defined once the last page is known.
        number = f"{writer.page_count + 1} / "
        page.text_right(layout.width / 2, footer_y, number, 8)
        page.form("Total", layout.width / 2, footer_y)
        page.text_right(right, footer_y, title, 8)
        writer.add_page(page)

    start_page()
    any_rows = False
    for row in rows:
        any_rows = True
        what = wrap_text(row.sentence, layout.what_width - 2 * layout.padding, layout.size)
        channel = wrap_text(row.channel_label, layout.channel_width - 2 * layout.padding, layout.size)
        when = [row.time[:10], row.time[11:19]]
        height = max(len(what), len(channel), len(when)) * layout.leading + 2 * layout.padding
        if y - height < bottom:
            finish_page()
            yield writer.take()
            page = PdfPage()
            start_page()
        for column_x, column in ((left, when), (x_what, what), (x_channel, channel)):
            baseline = y - layout.padding - layout.size
            for text_line in column:
                page.text(column_x + layout.padding, baseline, text_line, layout.size)
                baseline -= layout.leading
        y -= height
        page.line(left, y, right, y, 0.3)
    if not any_rows:
        page.text(left + layout.padding, y - 14, _pdf_text("none", language), 9)
    finish_page()
    total = PdfPage()
    total.text(0, 0, str(writer.page_count), 8)
    writer.close(form=total, form_box=(60, 12), title=title, language=language)
    yield writer.take()


def _pdf_pieces(
    rows: Iterable[ExportRow],
    *,
    resident: Resident,
    history_filter: HistoryFilter,
    language: str,
    generated_at: dt.datetime,
) -> Iterator[bytes]:
    header_lines = _pdf_header_lines(
        resident=resident, history_filter=history_filter, language=language, generated_at=generated_at
    )
    yield from pdf_chunks(rows, header_lines=header_lines, language=language)


# --- the response ----------------------------------------------------------------------------------------

CONTENT_TYPES = {
    "csv": "text/csv; charset=utf-8",
    "json": "application/json",
    "pdf": "application/pdf",
}


def history_export_response(
    *, resident: Resident, history_filter: HistoryFilter, fmt: str, language: str
) -> StreamingHttpResponse:
    """Records the download, then streams the resident's history (what they may see) in fmt."""
    if fmt not in FORMATS:
        raise ValueError(f"unknown export format {fmt!r}")
    language = "en" if language == "en" else "ja"
    # Log before release (SPEC 2.3): this record is committed before any row is read.
    export_record = release_record(
        owner=resident,
        actor=Actor.for_resident(resident),
        category="access_history",
        items=["records"],
        purpose="history_export",
        channel=Channel.EXPORT,
    )
    generated_at = timezone.now()
    rows = _rows(resident=resident, history_filter=history_filter, language=language)
    if fmt == "csv":
        pieces = _csv_pieces(rows, language)
    elif fmt == "json":
        pieces = _json_pieces(
            rows,
            resident=resident,
            history_filter=history_filter,
            language=language,
            generated_at=generated_at,
            export_seq=export_record.seq,
        )
    else:
        pieces = _pdf_pieces(
            rows,
            resident=resident,
            history_filter=history_filter,
            language=language,
            generated_at=generated_at,
        )
    response = StreamingHttpResponse(_in_chunks(pieces), content_type=CONTENT_TYPES[fmt])
    filename = f"access-history-{generated_at.astimezone(JST):%Y%m%d}.{fmt}"
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    response["Cache-Control"] = "no-store"
    response["X-Content-Type-Options"] = "nosniff"
    return response
