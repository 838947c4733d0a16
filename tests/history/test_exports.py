"""The download of the history: recorded first, streamed, parseable, never more than the resident may see."""

import csv
import datetime as dt
import io
import json
import re
import zlib

import pytest
from django.utils import timezone

from portal.history import exports
from portal.history.filters import HistoryFilter
from portal.history.models import Channel, ReleaseRecord
from portal.history.services import Actor
from tests.factories import ResidentFactory
from tests.history.tampering import release

pytestmark = pytest.mark.django_db

BANK = Actor.for_firm("firm-sakura", "さくら銀行")


def _export(resident, fmt: str, history_filter: HistoryFilter | None = None, language: str = "ja"):
    response = exports.history_export_response(
        resident=resident, history_filter=history_filter or HistoryFilter(), fmt=fmt, language=language
    )
    return response, b"".join(response.streaming_content)


def _csv_rows(body: bytes) -> list[list[str]]:
    assert body.startswith(b"\xef\xbb\xbf")
    return list(csv.reader(io.StringIO(body.decode("utf-8-sig"), newline="")))


@pytest.fixture
def resident():
    resident = ResidentFactory(name="山田 花子")
    release(resident, purpose="住民票の確認")
    release(
        resident,
        actor=BANK,
        category="income_tax",
        items=["income"],
        purpose="住宅ローンの審査",
        channel="firm_api",
    )
    return resident


# --- recorded before release --------------------------------------------------------------------------------


def test_the_export_is_recorded_before_any_content(resident, monkeypatch):
    seen_when_reading: list[ReleaseRecord] = []
    original = exports.selectors.resident_release_list

    def spying(**kwargs):
        seen_when_reading.append(ReleaseRecord.objects.filter(owner=resident).latest("seq"))
        return original(**kwargs)

    monkeypatch.setattr(exports.selectors, "resident_release_list", spying)
    response = exports.history_export_response(
        resident=resident, history_filter=HistoryFilter(), fmt="csv", language="ja"
    )
    record = ReleaseRecord.objects.filter(owner=resident).latest("seq")
    assert (record.purpose, record.channel, record.category, record.actor_type) == (
        "history_export",
        Channel.EXPORT,
        "access_history",
        "resident",
    )
    assert record.items == ["records"]
    assert seen_when_reading == []  # nothing read yet: the record came first
    rows = _csv_rows(b"".join(response.streaming_content))
    assert seen_when_reading[0].pk == record.pk
    assert rows[1][0] == str(record.seq)  # the download itself is the newest line of what was downloaded


def test_nothing_is_produced_if_the_export_cannot_be_recorded(resident, monkeypatch):
    def failing(**kwargs):
        raise RuntimeError("history unavailable")

    read = []
    monkeypatch.setattr(exports, "release_record", failing)
    monkeypatch.setattr(exports.selectors, "resident_release_list", lambda **kwargs: read.append(kwargs))
    with pytest.raises(RuntimeError):
        exports.history_export_response(
            resident=resident, history_filter=HistoryFilter(), fmt="json", language="ja"
        )
    assert read == []


# --- CSV ---------------------------------------------------------------------------------------------------


def test_csv_has_bom_japanese_header_and_every_visible_record(resident):
    response, body = _export(resident, "csv")
    rows = _csv_rows(body)
    assert rows[0] == [
        "番号",
        "日時",
        "利用者の種類",
        "利用者",
        "情報の種類",
        "項目",
        "目的",
        "根拠",
        "経路",
        "内容",
    ]
    assert [row[0] for row in rows[1:]] == ["3", "2", "1"]
    bank = rows[2]
    assert bank[2:5] == ["民間事業者", "さくら銀行", "所得・住民税"]
    assert bank[9] == "さくら銀行が、住宅ローンの審査のため、あなたの所得・住民税を取得しました。"
    assert dt.datetime.fromisoformat(bank[1]).utcoffset() == dt.timedelta(hours=9)
    assert body.count(b"\r\n") == 4  # RFC 4180 line ends
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    today = timezone.localdate().strftime("%Y%m%d")
    assert response["Content-Disposition"] == f'attachment; filename="access-history-{today}.csv"'


def test_csv_in_english(resident):
    _, body = _export(resident, "csv", language="en")
    rows = _csv_rows(body)
    assert rows[0][:3] == ["No.", "Time", "Kind of user"]
    assert rows[1][9] == "You downloaded your own access history for downloading your access history."
    assert rows[2][9] == "さくら銀行 received your income and resident tax for 住宅ローンの審査."


def test_csv_quotes_commas_quotes_and_line_breaks(db):
    resident = ResidentFactory()
    release(resident, purpose='審査, "特急"\n2行目')
    rows = _csv_rows(_export(resident, "csv")[1])
    assert rows[2][6] == '審査, "特急"\n2行目'


@pytest.mark.parametrize("start", ["=", "+", "-", "@"])
def test_csv_neutralises_formulas(db, start):
    resident = ResidentFactory()
    evil = Actor.for_firm("firm-evil", f'{start}HYPERLINK("http://evil.example","x")')
    release(
        resident,
        actor=evil,
        purpose=f"{start}1+1",
        legal_basis=f"{start}cmd|' /C calc'!A0",
        items=[f"{start}x"],
    )
    rows = _csv_rows(_export(resident, "csv")[1])
    cells = rows[2]
    for cell in (cells[3], cells[5], cells[6], cells[7], cells[9]):
        assert cell.startswith("'" + start), cell
    assert all(not cell.startswith(("=", "+", "-", "@")) for row in rows for cell in row)


def test_csv_cell_leaves_ordinary_text_alone():
    assert exports.csv_cell("山田 花子") == "山田 花子"
    assert exports.csv_cell("a=b") == "a=b"
    assert exports.csv_cell("\t=1") == "'\t=1"


# --- JSON --------------------------------------------------------------------------------------------------


def test_json_is_one_document_with_the_documented_fields(resident):
    response, body = _export(resident, "json")
    document = json.loads(body)
    assert response["Content-Type"] == "application/json"
    assert response["Content-Disposition"].endswith('.json"')
    assert document["schema"] == "myna-portal:history-export:v1"
    assert document["resident"] == {"name": "山田 花子"}
    assert document["filter"] == {"from": None, "to": None, "actor_type": None, "category": None}
    assert dt.datetime.fromisoformat(document["generated_at"]).utcoffset() == dt.timedelta(hours=9)
    assert document["record_count"] == len(document["records"]) == 3
    assert document["export_record_seq"] == document["records"][0]["seq"] == 3
    bank = document["records"][1]
    assert set(bank) == {
        "seq",
        "time",
        "actor_type",
        "actor_type_label",
        "actor",
        "category",
        "category_label",
        "items",
        "purpose",
        "legal_basis",
        "channel",
        "channel_label",
        "sentence",
    }
    assert (bank["actor_type"], bank["category"], bank["channel"], bank["items"]) == (
        "firm",
        "income_tax",
        "firm_api",
        ["income"],
    )


def test_json_with_no_records_left_after_filtering_is_still_valid(resident):
    document = json.loads(_export(resident, "json", HistoryFilter(category="pension"))[1])
    assert document["records"] == [] and document["record_count"] == 0
    assert document["filter"]["category"] == "pension"


# --- what is included -----------------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["csv", "json", "pdf"])
def test_deferred_records_are_absent_until_their_date(resident, fmt):
    release(
        resident,
        purpose="捜査関係事項照会",
        legal_basis="刑事訴訟法第197条第2項",
        disclose_from=timezone.now() + dt.timedelta(days=90),
    )
    _, body = _export(resident, fmt)
    text = _pdf_text(body) if fmt == "pdf" else body.decode("utf-8-sig")
    assert "捜査関係事項照会" not in text
    assert "住宅ローンの審査" in text


def test_filters_apply(resident):
    only_firms = json.loads(_export(resident, "json", HistoryFilter(actor_type="firm"))[1])
    assert [r["actor"] for r in only_firms["records"]] == ["さくら銀行"]
    only_household = json.loads(_export(resident, "json", HistoryFilter(category="household"))[1])
    assert [r["purpose"] for r in only_household["records"]] == ["住民票の確認"]
    tomorrow = timezone.localdate() + dt.timedelta(days=1)
    nothing = json.loads(_export(resident, "json", HistoryFilter(date_from=tomorrow))[1])
    assert nothing["records"] == []
    assert nothing["filter"]["from"] == tomorrow.isoformat()


def test_other_residents_records_are_never_included(resident):
    other = ResidentFactory(name="他人 次郎")
    release(other, purpose="他人の記録")
    text = _export(resident, "csv")[1].decode("utf-8-sig")
    assert "他人の記録" not in text


def test_rows_are_read_in_chunks_not_all_at_once(resident, monkeypatch):
    chunk_sizes = []
    original = exports.selectors.resident_release_list

    def spying(**kwargs):
        records = original(**kwargs)
        real_iterator = records.iterator

        def iterator(chunk_size=None):
            chunk_sizes.append(chunk_size)
            return real_iterator(chunk_size=chunk_size)

        records.iterator = iterator
        return records

    monkeypatch.setattr(exports.selectors, "resident_release_list", spying)
    _export(resident, "json")
    assert chunk_sizes == [exports.CHUNK_ROWS]


def test_unknown_format_is_refused_before_anything_is_recorded(resident):
    before = ReleaseRecord.objects.count()
    with pytest.raises(ValueError):
        exports.history_export_response(
            resident=resident, history_filter=HistoryFilter(), fmt="xlsx", language="ja"
        )
    assert ReleaseRecord.objects.count() == before


# --- PDF ---------------------------------------------------------------------------------------------------


def _shown(content: bytes) -> list[str]:
    """The strings a content stream shows: hex strings of UCS-2 code units, as the writer makes them."""
    return [
        bytes.fromhex(h.decode()).decode("utf-16-be") for h in re.findall(rb"<([0-9a-fA-F]*)> Tj", content)
    ]


def _pdf_text(pdf: bytes) -> str:
    """What a text extractor would read: every string shown by every content stream."""
    shown = []
    for packed in re.findall(rb"/FlateDecode /Length \d+ >>\nstream\n(.*?)\nendstream", pdf, re.DOTALL):
        shown += _shown(zlib.decompress(packed))
    return "\n".join(shown)


def _check_structure(pdf: bytes) -> int:
    """The cross-reference table points at every object; returns the number of pages."""
    assert pdf.startswith(b"%PDF-1.")
    assert pdf.rstrip().endswith(b"%%EOF")
    xref_at = int(re.search(rb"startxref\n(\d+)\n%%EOF", pdf).group(1))
    assert pdf[xref_at:].startswith(b"xref\n0 ")
    count = int(re.match(rb"xref\n0 (\d+)\n", pdf[xref_at:]).group(1))
    entries = re.findall(rb"(\d{10}) 00000 n \n", pdf[xref_at:])
    assert len(entries) == count - 1
    for number, offset in enumerate(entries, start=1):
        assert pdf[int(offset) :].startswith(b"%d 0 obj\n" % number)
    pages = re.search(rb"/Type /Pages /Kids \[[^\]]*\] /Count (\d+)", pdf)
    assert pages is not None
    assert pdf.count(b"/Type /Page /Parent") == int(pages.group(1))
    return int(pages.group(1))


def test_pdf_is_a_printable_a4_document_with_name_period_and_table(resident):
    response, body = _export(resident, "pdf", HistoryFilter(date_from=dt.date(2026, 1, 1)))
    assert response["Content-Type"] == "application/pdf"
    assert response["Content-Disposition"].endswith('.pdf"')
    assert _check_structure(body) == 1
    assert b"/MediaBox [0 0 595.28 841.89]" in body
    assert b"/BaseFont /HeiseiKakuGo-W5" in body and b"/Encoding /UniJIS-UCS2-H" in body
    text = _pdf_text(body)
    for expected in (
        "アクセス記録",
        "氏名: 山田 花子",
        "期間: 2026-01-01 から",
        "作成日時:",
        "さくら銀行が、住宅ローンの審査のため、あなたの所得・住民税を取得しました。",
        "民間事業者API",
        "1 / ",
    ):
        assert expected in text


def test_pdf_runs_onto_numbered_pages(db):
    resident = ResidentFactory()
    for n in range(120):
        release(resident, purpose=f"確認 {n}")
    body = _export(resident, "pdf", language="en")[1]
    pages = _check_structure(body)
    assert pages >= 3
    text = _pdf_text(body)
    assert all(f"{page} / " in text for page in range(1, pages + 1))
    assert "Access history" in text and "What happened" in text
    form = re.search(
        rb"\n4 0 obj\n<< /Type /XObject /Subtype /Form .*?stream\n(.*?)\nendstream", body, re.DOTALL
    )
    assert _shown(zlib.decompress(form.group(1))) == [str(pages)]


def test_pdf_wraps_long_sentences_inside_the_column():
    from portal.core.pdf import text_width, wrap_text

    sentence = "さくら銀行が、住宅ローンの審査のため、あなたの所得・住民税を取得しました。" * 3
    lines = wrap_text(sentence, 150, 8.5)
    assert "".join(lines) == sentence
    assert all(text_width(line, 8.5) <= 150 + 8.5 for line in lines)  # hanging punctuation may overhang
    assert not any(line.startswith(("、", "。")) for line in lines)
    words = wrap_text("Sakura Bank received your income and resident tax", 80, 8.5)
    assert " ".join(words) == "Sakura Bank received your income and resident tax"


def test_pdf_shows_characters_outside_the_font_as_geta():
    from portal.core.pdf import printable

    assert printable("𠮷野家") == "〓野家"
