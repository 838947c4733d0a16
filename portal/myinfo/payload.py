"""Strict reading of an agency's self-information answer (docs/contracts.md) and the identity check.

The envelope must be about the code, agency and category asked for; the ``data`` must satisfy the
category's JSON Schema (contracts/self-information/<category>.schema.json) when there is one. Error
messages name where the fault is and which rule failed, never the value found there (it may be personal
data, possibly someone else's).
"""

import json
import re
import unicodedata
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import lru_cache
from pathlib import Path
from typing import Any

import jsonschema_rs
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from jsonschema import Draft202012Validator
from jsonschema.exceptions import SchemaError, best_match
from jsonschema.protocols import Validator
from jsonschema.validators import validator_for
from referencing import Registry, Resource
from referencing.exceptions import NoSuchResource

from portal.agencies.payload import AgencyPayloadError, field_object, field_text, field_time, malformed
from portal.identity.models import Resident

NAME_MAX = 200
# Nesting deeper than this is no agency record: refused before any further work on it.
MAX_DEPTH = 32
# An agency's clock may run a little ahead of ours; an "as of" further in the future is not believed.
FUTURE_TOLERANCE = timedelta(hours=1)

_ENVELOPE_FIELDS = frozenset({"agency_id", "agency_code", "category", "as_of", "subject", "data"})
_SUBJECT_FIELDS = frozenset({"name", "name_kana", "birth_date"})
_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")

#: The identity attributes compared with the resident's, in the order reports name them.
IDENTITY_ATTRIBUTES = ("name", "birth_date")


# The portal's name for the shared error: an answer it may not keep.
MyinfoPayloadError = AgencyPayloadError


@dataclass(frozen=True)
class Subject:
    """Who the agency believes the record is about."""

    name: str
    name_kana: str
    birth_date: date


@dataclass(frozen=True)
class SelfInformation:
    agency_id: str
    agency_code: str
    category: str
    as_of: datetime
    subject: Subject
    data: dict[str, Any]


_malformed = malformed
_object = field_object
_time = field_time


def _text(value: Any, where: str, *, allow_empty: bool = False) -> str:
    return field_text(value, where, NAME_MAX, allow_empty=allow_empty)


def _day(value: Any, where: str) -> date:
    if not isinstance(value, str) or not _ISO_DATE.fullmatch(value):
        raise _malformed(where, "not a date (YYYY-MM-DD)")
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise _malformed(where, "not a date (YYYY-MM-DD)") from None


def _depth(value: Any) -> int:
    """How deeply the value nests (iteratively: a hostile answer must not exhaust the stack)."""
    if not isinstance(value, dict | list):
        return 0
    deepest, pending = 0, [(value, 1)]
    while pending:
        item, depth = pending.pop()
        deepest = max(deepest, depth)
        if depth > MAX_DEPTH:
            return depth
        # Only containers are walked: an answer is mostly strings and numbers (a fetch's CPU, issue 4).
        children = item.values() if isinstance(item, dict) else item
        pending.extend((child, depth + 1) for child in children if isinstance(child, dict | list))
    return deepest


def parse_self_information(
    body: Any, *, agency_id: str, expected_code: str, category: str, now: datetime
) -> SelfInformation:
    """The answer's envelope, checked, or :class:`MyinfoPayloadError` naming the first fault."""
    answer = _object(body, "answer", _ENVELOPE_FIELDS)
    if not isinstance(answer["agency_code"], str) or answer["agency_code"] != expected_code:
        # An answer about someone else: whatever it holds must not reach this resident (SPEC 2.6).
        raise MyinfoPayloadError("wrong_subject", "answer.agency_code", "not the code asked for")
    if answer["agency_id"] != agency_id:
        raise _malformed("answer.agency_id", "not the agency asked")
    if answer["category"] != category:
        raise _malformed("answer.category", "not the category asked for")
    as_of = _time(answer["as_of"], "answer.as_of")
    if as_of > now + FUTURE_TOLERANCE:
        raise _malformed("answer.as_of", "lies in the future")
    subject = _object(answer["subject"], "answer.subject", _SUBJECT_FIELDS)
    data = answer["data"]
    if not isinstance(data, dict):
        raise _malformed("answer.data", "not an object")
    if _depth(data) > MAX_DEPTH:
        raise _malformed("answer.data", f"nested deeper than {MAX_DEPTH} levels")
    return SelfInformation(
        agency_id=agency_id,
        agency_code=expected_code,
        category=category,
        as_of=as_of,
        subject=Subject(
            name=_text(subject["name"], "answer.subject.name"),
            name_kana=_text(subject["name_kana"], "answer.subject.name_kana", allow_empty=True),
            birth_date=_day(subject["birth_date"], "answer.subject.birth_date"),
        ),
        data=data,
    )


def contract_path(category: str) -> Path:
    return Path(settings.MYINFO_CONTRACTS_DIR) / f"{category}.schema.json"


def _contract_file(directory: Path, uri: str) -> Path:
    name = uri.rsplit("/", 1)[-1]
    path = directory / name
    if not name.endswith(".json") or not path.is_file():
        raise NoSuchResource(ref=uri)
    return path


def _registry(directory: Path) -> Registry:
    """Resolves a schema's references to sibling files of the contract directory, and to nothing else."""

    def retrieve(uri: str) -> Resource:
        path = _contract_file(directory, uri)
        return Resource.from_contents(json.loads(path.read_text(encoding="utf-8")))

    return Registry(retrieve=retrieve)  # type: ignore[call-arg]


@lru_cache(maxsize=64)
def _validator(path: str, modified_ns: int) -> Validator:
    # Keyed by modification time too: a contract updated on disk is read again without a restart.
    try:
        schema = json.loads(Path(path).read_text(encoding="utf-8"))
        cls = validator_for(schema, default=Draft202012Validator)
        cls.check_schema(schema)
    except (ValueError, SchemaError) as exc:
        raise ImproperlyConfigured(f"{path} is not a valid JSON Schema: {exc}") from exc
    return cls(schema, registry=_registry(Path(path).parent), format_checker=cls.FORMAT_CHECKER)


@lru_cache(maxsize=64)
def _fast_validator(path: str, modified_ns: int) -> jsonschema_rs.Validator:
    """The same contract compiled by jsonschema-rs, which checks a valid answer about 20 times faster
    (bench/README.md, issue 4): formats asserted, so that it accepts nothing the reference refuses."""
    directory = Path(path).parent

    def retrieve(uri: str) -> Any:
        return json.loads(_contract_file(directory, uri).read_text(encoding="utf-8"))

    schema = json.loads(Path(path).read_text(encoding="utf-8"))
    return jsonschema_rs.validator_for(schema, validate_formats=True, retriever=retrieve)


def data_validate(*, category: str, data: dict[str, Any]) -> bool:
    """Checks ``data`` against the category's contract; False when there is no contract to check against."""
    path = contract_path(category)
    try:
        modified_ns = path.stat().st_mtime_ns
    except FileNotFoundError:
        return False
    reference = _validator(str(path), modified_ns)  # checks the schema itself, once per version
    if _fast_validator(str(path), modified_ns).is_valid(data):
        return True
    # Refused, or a format the faster validator reads more strictly: the reference validator decides, and
    # names the rule.
    error = best_match(reference.iter_errors(data))
    if error is not None:
        # The JSON path and the rule, never error.message: it quotes the offending value.
        where = "answer.data" + error.json_path[1:]
        raise _malformed(where, f"fails the contract's '{error.validator}' rule")
    return True


def name_key(name: str) -> str:
    """A name as compared: NFKC (full-width letters and spaces, half-width kana), no spaces, case folded.

    Agencies write 山田　花子, 山田 花子 or 山田花子 for one person, and SMITH JOHN or Smith John; those
    are one name. Different characters stay different (一郎 is not 一朗): that is the mis-link case.
    """
    return "".join(unicodedata.normalize("NFKC", name).split()).casefold()


def identity_mismatches(*, subject: Subject, resident: Resident) -> list[str]:
    """The identity attributes in which the agency's subject differs from the resident; [] if none."""
    mismatched = []
    if name_key(subject.name) != name_key(resident.name):
        mismatched.append("name")
    if subject.birth_date != resident.birth_date:
        mismatched.append("birth_date")
    return mismatched


def answer_digest_text(answer: SelfInformation) -> str:
    """The canonical text of what an answer says, without its "as of" (which changes on every fetch)."""
    return json.dumps(
        {
            "agency_id": answer.agency_id,
            "agency_code": answer.agency_code,
            "category": answer.category,
            "subject": {
                "name": answer.subject.name,
                "name_kana": answer.subject.name_kana,
                "birth_date": answer.subject.birth_date.isoformat(),
            },
            "data": answer.data,
        },
        ensure_ascii=False,
        sort_keys=True,
        separators=(",", ":"),
    )
