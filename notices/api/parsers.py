"""JSON for notices, which carry PDFs as Base64: read up to the notices' own cap, not Django's 2.5 MB.

DRF reads its JSONParser's input through request.body, which Django caps at DATA_UPLOAD_MAX_MEMORY_SIZE;
this parser reads the request stream itself, at most NOTICE_REQUEST_MAX_BYTES.
"""

import json
from typing import Any

from rest_framework.exceptions import ParseError
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
            return json.loads(raw)
        except (ValueError, RecursionError) as exc:
            raise ParseError("The body is not valid JSON (UTF-8).") from exc
