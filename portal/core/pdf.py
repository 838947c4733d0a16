"""A small PDF writer that streams page by page, for documents too long to hold in memory.

reportlab's canvas keeps every page until it saves, so a 4,000-page history would sit in memory; here each
page is compressed and handed on as soon as it is drawn, and only object offsets stay behind. Japanese text
uses reportlab's CID font HeiseiKakuGo-W5 (its metrics and font dictionary), which PDF readers supply
themselves: nothing is embedded. It draws text, lines and grey boxes; nothing more is needed.
"""

import copy
import datetime as dt
import re
import zlib
from functools import lru_cache

from reportlab.pdfbase.cidfonts import CIDFontInfo, UnicodeCIDFont, structToPDF
from reportlab.pdfbase.pdfdoc import PDFDocument

FONT_NAME = "HeiseiKakuGo-W5"
A4 = (595.28, 841.89)  # points
GETA = "〓"  # 下駄記号: the customary stand-in for a character the font cannot show

_font = UnicodeCIDFont(FONT_NAME)
_widths: dict[str, int] = _font.unicodeWidths


def _font_dictionary() -> bytes:
    description = copy.deepcopy(CIDFontInfo[_font.face.name])
    description["Name"] = "/F1"
    description["Encoding"] = "/" + _font.encodingName
    return structToPDF(description).format(PDFDocument())


_ASTRAL = re.compile("[\U00010000-\U0010ffff]")


def printable(text: str) -> str:
    """The font's encoding (UniJIS-UCS2-H) covers the Basic Multilingual Plane only: others become 〓."""
    return text if text.isascii() else _ASTRAL.sub(GETA, text)


@lru_cache(maxsize=8192)
def _units(text: str) -> int:
    """Width in thousandths of the font size; a history repeats the same characters and words."""
    return sum(_widths.get(char, 1000) for char in text)


def text_width(text: str, size: float) -> float:
    return size * 0.001 * _units(text)


# Characters that must not begin a line in Japanese (行頭禁則): they hang past the edge instead.
NO_LINE_START = frozenset("、。，．,.)）」』】〕〉》!?！？ー")
_TOKENS = re.compile(r"[!-~]+ *| +|.", re.DOTALL)  # a run of ASCII (a word) with its spaces, or one char


def wrap_text(text: str, width: float, size: float) -> list[str]:
    """Breaks text into lines no wider than width: between any two Japanese characters, between words."""
    text = printable(text)
    limit = width * 1000 / size  # in the font's units, so each token is measured (and cached) once
    if sum(_units(token) for token in _TOKENS.findall(text)) <= limit:
        return [text] if text else [""]
    lines: list[str] = []
    line, line_units = "", 0
    for token in _TOKENS.findall(text):
        token_units = _units(token)
        trimmed = token.rstrip(" ")
        trimmed_units = token_units if trimmed is token else _units(trimmed)
        if not line or line_units + trimmed_units <= limit or token in NO_LINE_START:
            line, line_units = line + token, line_units + token_units
            continue
        lines.append(line.rstrip(" "))
        line = token.lstrip(" ")
        line_units = _units(line)
    lines.append(line.rstrip(" "))
    # A single word wider than the column is cut wherever it must be.
    result: list[str] = []
    for long_line in lines:
        while len(long_line) > 1 and _units(long_line) > limit:
            cut = len(long_line) - 1
            while cut > 1 and _units(long_line[:cut]) > limit:
                cut -= 1
            result.append(long_line[:cut])
            long_line = long_line[cut:]
        result.append(long_line)
    return [line for line in result if line] or [""]


def _pdf_string(text: str) -> bytes:
    """A string for the font: its UCS-2 code units as a hex string (no escaping needed)."""
    return b"<" + printable(text).encode("utf-16-be").hex().encode() + b">"


def _info_string(text: str) -> bytes:
    """A text string in the document information: UTF-16BE with its byte-order mark, as hex."""
    return b"<FEFF" + text.encode("utf-16-be").hex().upper().encode() + b">"


def _number(value: float) -> bytes:
    return (f"{value:.2f}".rstrip("0").rstrip(".") or "0").encode()


class PdfPage:
    """The drawing operators of one page (or of a form), collected until the page is written."""

    def __init__(self) -> None:
        self._ops: list[bytes] = []

    def text(self, x: float, y: float, text: str, size: float) -> None:
        self._ops.append(
            b"BT /F1 %s Tf 1 0 0 1 %s %s Tm %s Tj ET"
            % (_number(size), _number(x), _number(y), _pdf_string(text))
        )

    def text_right(self, x: float, y: float, text: str, size: float) -> None:
        self.text(x - text_width(printable(text), size), y, text, size)

    def line(self, x1: float, y1: float, x2: float, y2: float, width: float) -> None:
        self._ops.append(
            b"%s w %s %s m %s %s l S" % (_number(width), _number(x1), _number(y1), _number(x2), _number(y2))
        )

    def box(self, x: float, y: float, width: float, height: float, gray: float) -> None:
        self._ops.append(
            b"q %s g %s %s %s %s re f Q"
            % (_number(gray), _number(x), _number(y), _number(width), _number(height))
        )

    def form(self, name: str, x: float, y: float) -> None:
        """Draws a form that may be defined later (the page total, say) with its origin at (x, y)."""
        self._ops.append(b"q 1 0 0 1 %s %s cm /%s Do Q" % (_number(x), _number(y), name.encode()))

    def content(self) -> bytes:
        return b"\n".join(self._ops) + b"\n"


class PdfWriter:
    """Writes a PDF object by object; the caller takes the bytes written so far whenever it likes.

    Objects 1-4 are reserved: the catalog, the page tree, the font and the form named `form_name` (drawn
    by every page, defined at close, when what it shows is known). A PDF is read from its end, so the
    bytes can go out as they are made: only object offsets and page numbers are kept.
    """

    CATALOG, PAGES, FONT, FORM = 1, 2, 3, 4

    def __init__(self, *, size: tuple[float, float] = A4, form_name: str = "Total") -> None:
        self._buffer = bytearray()
        self._position = 0
        self._size = size
        self._form_name = form_name
        self._offsets: dict[int, int] = {}
        self._next = 5
        self._pages: list[int] = []
        self._write(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
        self._object(self.FONT, _font_dictionary())

    @property
    def page_count(self) -> int:
        return len(self._pages)

    def take(self) -> bytes:
        """The bytes written since the last call."""
        data = bytes(self._buffer)
        self._buffer.clear()
        return data

    def _write(self, data: bytes) -> None:
        self._buffer += data
        self._position += len(data)

    def _new_number(self) -> int:
        number = self._next
        self._next += 1
        return number

    def _object(self, number: int, body: bytes) -> None:
        self._offsets[number] = self._position
        self._write(b"%d 0 obj\n%s\nendobj\n" % (number, body))

    def _stream(self, number: int, dictionary: bytes, data: bytes) -> None:
        packed = zlib.compress(data, 6)
        head = b"<< %s /Filter /FlateDecode /Length %d >>" % (dictionary, len(packed))
        self._object(number, b"%s\nstream\n%s\nendstream" % (head, packed))

    def _resources(self, *, with_form: bool) -> bytes:
        form = b" /XObject << /%s %d 0 R >>" % (self._form_name.encode(), self.FORM) if with_form else b""
        return b"<< /Font << /F1 %d 0 R >>%s /ProcSet [/PDF /Text] >>" % (self.FONT, form)

    def add_page(self, page: PdfPage) -> None:
        contents = self._new_number()
        self._stream(contents, b"", page.content())
        number = self._new_number()
        width, height = self._size
        self._object(
            number,
            b"<< /Type /Page /Parent %d 0 R /MediaBox [0 0 %s %s] /Resources %s /Contents %d 0 R >>"
            % (self.PAGES, _number(width), _number(height), self._resources(with_form=True), contents),
        )
        self._pages.append(number)

    def close(self, *, form: PdfPage, form_box: tuple[float, float], title: str, language: str) -> None:
        """Writes the form, the page tree, the catalog, the information and the cross-reference table."""
        self._stream(
            self.FORM,
            b"/Type /XObject /Subtype /Form /BBox [0 -4 %s %s] /Resources %s"
            % (_number(form_box[0]), _number(form_box[1]), self._resources(with_form=False)),
            form.content(),
        )
        kids = b" ".join(b"%d 0 R" % number for number in self._pages)
        self._object(self.PAGES, b"<< /Type /Pages /Kids [%s] /Count %d >>" % (kids, len(self._pages)))
        self._object(
            self.CATALOG,
            b"<< /Type /Catalog /Pages %d 0 R /Lang (%s) >>" % (self.PAGES, language.encode("ascii")),
        )
        info = self._new_number()
        created = dt.datetime.now(dt.UTC).strftime("D:%Y%m%d%H%M%SZ").encode()
        self._object(
            info,
            b"<< /Title %s /Producer (myna-portal) /CreationDate (%s) >>" % (_info_string(title), created),
        )
        xref_at = self._position
        lines = [b"xref\n0 %d\n" % self._next, b"0000000000 65535 f \n"]
        lines += [b"%010d 00000 n \n" % self._offsets[number] for number in range(1, self._next)]
        self._write(b"".join(lines))
        self._write(
            b"trailer\n<< /Size %d /Root %d 0 R /Info %d 0 R >>\nstartxref\n%d\n%%%%EOF\n"
            % (self._next, self.CATALOG, info, xref_at)
        )
