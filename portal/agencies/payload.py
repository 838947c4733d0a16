"""Checks shared by every parser of agency answers: an agency's answer is untrusted input.

Errors name where in the answer the problem is and what rule it broke, never the offending value.
"""

import unicodedata
from datetime import datetime
from typing import Any

from portal.agencies.client import AgencyError


class AgencyPayloadError(AgencyError):
    """The agency answered, but not with data the portal may keep (final: asking again will not help).

    ``code`` is ``malformed``, ``oversized`` or ``wrong_subject`` (an answer about another agency code).
    """

    def __init__(self, code: str, where: str, problem: str) -> None:
        super().__init__(f"{code}: {where}: {problem}", code=code)
        self.where = where
        self.problem = problem


def malformed(where: str, problem: str) -> AgencyPayloadError:
    return AgencyPayloadError("malformed", where, problem)


def field_object(value: Any, where: str, fields: frozenset[str]) -> dict[str, Any]:
    """An object with exactly these fields."""
    if not isinstance(value, dict):
        raise malformed(where, "not an object")
    missing, unknown = fields - value.keys(), value.keys() - fields
    if missing:
        raise malformed(where, f"missing {', '.join(sorted(missing))}")
    if unknown:
        # Counted, not named: an unexpected key is as untrusted as any value.
        raise malformed(where, f"{len(unknown)} unknown field(s)")
    return value


def field_text(value: Any, where: str, limit: int, *, allow_empty: bool = False) -> str:
    """A string of at most ``limit`` characters without control characters."""
    if not isinstance(value, str):
        raise malformed(where, "not a string")
    if not allow_empty and not value.strip():
        raise malformed(where, "empty")
    if len(value) > limit:
        raise AgencyPayloadError("oversized", where, f"longer than {limit} characters")
    if any(unicodedata.category(c) in ("Cc", "Cs") for c in value):
        raise malformed(where, "contains control characters")
    return value


def field_time(value: Any, where: str) -> datetime:
    """An ISO 8601 date and time with its UTC offset."""
    if not isinstance(value, str) or len(value) > 40:
        raise malformed(where, "not an ISO 8601 date and time")
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise malformed(where, "not an ISO 8601 date and time") from None
    if moment.utcoffset() is None:
        raise malformed(where, "has no UTC offset")
    return moment
