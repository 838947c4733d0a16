"""Agency-specific codes (機関別符号) per docs/contracts.md.

``agency_code = base32(HMAC-SHA256(key=code_secret, msg=my_number))``, unpadded, first 26 characters, upper
case. This module must never persist or log the My Number it is given; it only derives the code.
"""

from __future__ import annotations

import base64
import hashlib
import hmac

AGENCY_CODE_LENGTH = 26


def agency_code(code_secret: str, my_number: str) -> str:
    """The code by which the agency holding ``code_secret`` knows the resident with ``my_number``."""
    digest = hmac.new(code_secret.encode("utf-8"), my_number.encode("utf-8"), hashlib.sha256).digest()
    return base64.b32encode(digest).decode("ascii").rstrip("=")[:AGENCY_CODE_LENGTH].upper()
