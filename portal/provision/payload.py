"""Strict reading of the network's answer (docs/contracts.md, "Information-provision records").

Every field is checked for type, length and form, unknown fields are refused, and the answer must be
about the code the portal asked for; one bad record refuses the whole answer. Error messages name where
the fault is, never the value found there (it may be personal data).
"""

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from portal.agencies.payload import AgencyPayloadError, field_object, field_text, field_time, malformed

MAX_RECORDS = 2000
NAME_MAX = 200
TEXT_MAX = 300
# An agency's clock may run a little ahead of ours; a record further in the future is not believed.
FUTURE_TOLERANCE = timedelta(hours=1)

_ANSWER_FIELDS = frozenset({"agency_code", "as_of", "records"})
_RECORD_FIELDS = frozenset(
    {
        "id",
        "occurred_at",
        "requester",
        "provider",
        "procedure_ja",
        "procedure_en",
        "legal_basis",
        "items_ja",
        "items_en",
        "status",
    }
)
_PARTY_FIELDS = frozenset({"id", "name_ja", "name_en"})
_RECORD_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9-]{0,63}")
_PARTY_ID = re.compile(r"[a-z0-9][a-z0-9-]{0,63}")
STATUSES = frozenset({"provided", "no_record"})


ProvisionPayloadError = AgencyPayloadError


@dataclass(frozen=True)
class Party:
    id: str
    name_ja: str
    name_en: str


@dataclass(frozen=True)
class ProvisionEntry:
    external_id: str
    occurred_at: datetime
    requester: Party
    provider: Party
    procedure_ja: str
    procedure_en: str
    legal_basis: str
    items_ja: str
    items_en: str
    status: str


@dataclass(frozen=True)
class ProvisionAnswer:
    agency_code: str
    as_of: datetime
    records: tuple[ProvisionEntry, ...]


_malformed = malformed
_object = field_object
_text = field_text
_time = field_time


def _pattern(value: Any, where: str, pattern: re.Pattern[str]) -> str:
    if not isinstance(value, str) or not pattern.fullmatch(value):
        raise _malformed(where, "not a valid identifier")
    return value


def _party(value: Any, where: str) -> Party:
    party = _object(value, where, _PARTY_FIELDS)
    return Party(
        id=_pattern(party["id"], f"{where}.id", _PARTY_ID),
        name_ja=_text(party["name_ja"], f"{where}.name_ja", NAME_MAX),
        name_en=_text(party["name_en"], f"{where}.name_en", NAME_MAX),
    )


def _entry(value: Any, where: str, now: datetime) -> ProvisionEntry:
    record = _object(value, where, _RECORD_FIELDS)
    occurred_at = _time(record["occurred_at"], f"{where}.occurred_at")
    if occurred_at > now + FUTURE_TOLERANCE:
        raise _malformed(f"{where}.occurred_at", "lies in the future")
    if record["status"] not in STATUSES:
        raise _malformed(f"{where}.status", "not a known status")
    return ProvisionEntry(
        external_id=_pattern(record["id"], f"{where}.id", _RECORD_ID),
        occurred_at=occurred_at,
        requester=_party(record["requester"], f"{where}.requester"),
        provider=_party(record["provider"], f"{where}.provider"),
        procedure_ja=_text(record["procedure_ja"], f"{where}.procedure_ja", TEXT_MAX),
        procedure_en=_text(record["procedure_en"], f"{where}.procedure_en", TEXT_MAX),
        legal_basis=_text(record["legal_basis"], f"{where}.legal_basis", TEXT_MAX),
        items_ja=_text(record["items_ja"], f"{where}.items_ja", TEXT_MAX),
        items_en=_text(record["items_en"], f"{where}.items_en", TEXT_MAX),
        status=record["status"],
    )


def parse_provision_records(body: Any, *, expected_code: str, now: datetime) -> ProvisionAnswer:
    """The answer's records, or :class:`ProvisionPayloadError` naming the first fault."""
    answer = _object(body, "answer", _ANSWER_FIELDS)
    if not isinstance(answer["agency_code"], str) or answer["agency_code"] != expected_code:
        # An answer about someone else: whatever it holds must not reach this resident (SPEC 2.6).
        raise ProvisionPayloadError("wrong_subject", "answer.agency_code", "not the code asked for")
    as_of = _time(answer["as_of"], "answer.as_of")
    records = answer["records"]
    if not isinstance(records, list):
        raise _malformed("answer.records", "not a list")
    if len(records) > MAX_RECORDS:
        raise ProvisionPayloadError("oversized", "answer.records", f"more than {MAX_RECORDS} records")
    entries = tuple(_entry(r, f"records[{i}]", now) for i, r in enumerate(records))
    seen: set[str] = set()
    for i, entry in enumerate(entries):
        if entry.external_id in seen:
            raise _malformed(f"records[{i}].id", "repeats an earlier record's id")
        seen.add(entry.external_id)
    return ProvisionAnswer(agency_code=expected_code, as_of=as_of, records=entries)
