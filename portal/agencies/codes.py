"""機関別符号: the code by which one agency knows a resident (docs/contracts.md).

Derived with that agency's secret, so no agency (nor anyone holding one agency's code) can compute
another's code or recover the My Number. The My Number itself never leaves the portal.
"""

import base64
import hashlib
import hmac
import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

CODE_LENGTH = 26


@dataclass(frozen=True)
class AgencyInfo:
    id: str
    name_ja: str
    name_en: str
    categories: tuple[str, ...]
    code_secret: str


@lru_cache(maxsize=2)
def _load(path: str) -> dict[str, AgencyInfo]:
    data = json.loads(Path(path).read_text(encoding="utf-8"))
    agencies = {}
    for entry in data["agencies"]:
        if settings.PRODUCTION and entry["code_secret"].startswith("demo-only-"):
            raise ImproperlyConfigured(f"Agency {entry['id']} still has its demo secret.")
        agencies[entry["id"]] = AgencyInfo(
            id=entry["id"],
            name_ja=entry["name_ja"],
            name_en=entry["name_en"],
            categories=tuple(entry["categories"]),
            code_secret=entry["code_secret"],
        )
    return agencies


def agency_registry() -> dict[str, AgencyInfo]:
    return _load(settings.DEMO_AGENCIES_FILE)


def agency_code(*, my_number: str, agency_id: str) -> str:
    secret = agency_registry()[agency_id].code_secret
    digest = hmac.new(secret.encode(), my_number.encode(), hashlib.sha256).digest()
    return base64.b32encode(digest).decode().rstrip("=")[:CODE_LENGTH].upper()
