"""Pre-filling an answer form from the resident's own information (わたしの情報), as cached now.

Reads only: a page that shows these values records the release first (SPEC 2.3), per category, with
:func:`prefill_release`; the submission recomputes fixed values here instead of trusting the page.
"""

from dataclasses import dataclass, field
from typing import Any

from jsonschema import Draft202012Validator, validators

from notices.forms import schema_resolve
from notices.models import Notice
from portal.history.models import Channel
from portal.history.services import Actor, release_record
from portal.identity.models import Resident
from portal.myinfo.selectors import myinfo_payload


@dataclass
class Prefill:
    """Values by field, the categories and paths they came from, and the categories not held now."""

    values: dict[str, Any] = field(default_factory=dict)
    used: dict[str, list[str]] = field(default_factory=dict)
    missing: list[str] = field(default_factory=list)


def _dig(data: Any, path: list[str]) -> Any:
    for part in path:
        if isinstance(data, list) and part.isdigit():
            index = int(part)
            if index >= len(data):
                return None
            data = data[index]
        elif isinstance(data, dict) and part in data:
            data = data[part]
        else:
            return None
    return data


def _fits(schema: dict[str, Any], name: str, value: Any) -> bool:
    node = schema_resolve(schema, schema["properties"].get(name) or {})
    cls = validators.validator_for(schema, default=Draft202012Validator)
    # Local references of the field resolve against the whole form schema.
    wrapper = {**{k: v for k, v in schema.items() if k not in {"properties", "required"}}, **node}
    return cls(wrapper, format_checker=cls.FORMAT_CHECKER).is_valid(value)


def notice_prefill(*, notice: Notice, resident: Resident) -> Prefill:
    """The values the resident's cached information gives the form; values that do not fit are left out."""
    result = Prefill()
    if not notice.form_schema or not notice.prefill:
        return result
    payloads: dict[str, dict[str, Any] | None] = {}
    for item in notice.prefill:
        category, *path = item["from"].split(".")
        if category not in payloads:
            payloads[category] = myinfo_payload(resident=resident, category=category)
        payload = payloads[category]
        if payload is None:
            if category not in result.missing:
                result.missing.append(category)
            continue
        value = _dig(payload, path)
        if value is None or not _fits(notice.form_schema, item["field"], value):
            continue
        result.values[item["field"]] = value
        result.used.setdefault(category, []).append(".".join(path))
    return result


def prefill_release(*, resident: Resident, prefill: Prefill, actor: Actor | None = None) -> None:
    """Records the display of pre-filled values, one record per category, before the page shows them;
    ``actor`` is who sees them (a proxy answering for the resident), the resident by default."""
    for category, paths in prefill.used.items():
        release_record(
            owner=resident,
            actor=actor or Actor.for_resident(resident),
            category=category,
            items=sorted(set(paths))[:20],
            purpose="notice_view",
            channel=Channel.WEB,
        )
