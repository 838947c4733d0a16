"""JSON for notices, which carry PDFs as Base64: read up to the notices' own cap, not Django's 2.5 MB.

DRF reads its JSONParser's input through request.body, which Django caps at DATA_UPLOAD_MAX_MEMORY_SIZE;
this parser reads the request stream itself, at most NOTICE_REQUEST_MAX_BYTES. It refuses a NUL
character anywhere in the document, which no PostgreSQL text or jsonb value can hold.
"""

import json
from typing import Any

from rest_framework.parsers import BaseParser

from notices.conf import conf
from portal.core.errors import PortalError


class NoticeJSONParser(BaseParser):
    media_type = "application/json"

    def parse(self, stream: Any, media_type: str | None = None, parser_context: Any = None) -> Any:
        limit = conf("NOTICE_REQUEST_MAX_BYTES")
        raw = stream.read(limit + 1) if stream is not None else b""
        if len(raw) > limit:
            raise PortalError(
                "request_too_large",
                "送信データが大きすぎます。",
                f"The request is too large (at most {limit:,} bytes).",
                413,
            )
        try:
            document = json.loads(raw)
        except (ValueError, RecursionError) as exc:
            raise PortalError(
                "malformed_request",
                "送信データをJSON（UTF-8）として読めません。",
                "The body is not valid JSON (UTF-8).",
                400,
            ) from exc
        # JSON can carry a NUL only as the escape \u0000, so only a body with one is walked.
        if b"\\u0000" in raw and _holds_nul(document):
            raise PortalError(
                "malformed_request",
                "送信データに NUL 文字（\\u0000）は使えません。",
                "The body may not contain the NUL character (\\u0000).",
                400,
            )
        return document


def _holds_nul(document: Any) -> bool:
    pending = [document]
    while pending:
        node = pending.pop()
        if isinstance(node, str):
            if "\x00" in node:
                return True
        elif isinstance(node, dict):
            pending.extend(node.keys())
            pending.extend(node.values())
        elif isinstance(node, list):
            pending.extend(node)
    return False
