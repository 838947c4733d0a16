"""Answer forms described by a JSON Schema: checking an agency's schema, drawing it, reading an answer.

A form is an object schema whose properties are its fields. Scalars (text, dates, choices, numbers,
yes/no) are inputs the resident may change; arrays and objects (household members, say) are shown as
pre-filled from the resident's own information and sent as shown. Every answer is validated against the
schema itself before it is stored; the page never trusts its own inputs.
"""

import json
import re
from dataclasses import dataclass, field
from typing import Any

from django.http import QueryDict
from jsonschema import Draft202012Validator, SchemaError, validators

from portal.core.errors import PortalError
from portal.myinfo.models import MYINFO_CATEGORIES

FIELD_NAME = re.compile(r"[a-z][a-z0-9_]{0,63}")
PREFILL_SOURCE = re.compile(r"([a-z_]+)((?:\.(?:[a-z][a-z0-9_]{0,63}|\d{1,3})){1,6})")


def _schema_error(ja: str, en: str, code: str = "invalid_form_schema") -> PortalError:
    return PortalError(code, ja, en, 422, extra={"field": "action.schema"})


def _refs(node: Any):
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str):
                yield value
            yield from _refs(value)
    elif isinstance(node, list):
        for item in node:
            yield from _refs(item)


def form_schema_check(schema: Any, *, max_bytes: int, max_fields: int) -> None:
    """Refuses a schema that is not valid JSON Schema (meta-schema check) or not a form we can draw."""
    if not isinstance(schema, dict):
        raise _schema_error(
            "回答フォームの定義はJSONオブジェクトにしてください。", "The form schema must be a JSON object."
        )
    if len(json.dumps(schema, ensure_ascii=False).encode()) > max_bytes:
        raise _schema_error(
            f"回答フォームの定義が大きすぎます（上限 {max_bytes} バイト）。",
            f"The form schema is too large (at most {max_bytes} bytes).",
        )
    if not isinstance(schema.get("$schema", ""), str):
        raise _schema_error(
            "回答フォームの定義の $schema は文字列（URI）にしてください。",
            "The form schema's $schema must be a string (a URI).",
        )
    cls = validators.validator_for(schema, default=Draft202012Validator)
    try:
        cls.check_schema(schema)
    except SchemaError as exc:
        where = "/".join(str(p) for p in exc.path) or "(root)"
        raise _schema_error(
            f"回答フォームの定義がJSON Schemaとして正しくありません（{where}）。",
            f"The form schema is not a valid JSON Schema (at {where}): {exc.message[:200]}",
        ) from exc
    except RecursionError as exc:
        raise _schema_error(
            "回答フォームの定義の入れ子が深すぎます。",
            "The form schema is nested too deeply.",
        ) from exc
    if any(not ref.startswith("#") for ref in _refs(schema)):
        raise _schema_error(
            "回答フォームの定義は外部を参照できません（$ref は # で始めてください）。",
            "The form schema may not refer outside itself ($ref must start with #).",
        )
    properties = schema.get("properties")
    if schema.get("type") != "object" or not isinstance(properties, dict) or not properties:
        raise _schema_error(
            "回答フォームの定義は、項目（properties）を持つ object 型にしてください。",
            'The form schema must be of type "object" with at least one property.',
        )
    if len(properties) > max_fields:
        raise _schema_error(
            f"回答フォームの項目が多すぎます（上限 {max_fields}）。",
            f"The form has too many fields (at most {max_fields}).",
        )
    for name, node in properties.items():
        if not FIELD_NAME.fullmatch(name):
            raise _schema_error(
                f"回答フォームの項目名「{name[:64]}」は使えません（英小文字・数字・_）。",
                f"The field name {name[:64]!r} is not allowed (lower-case letters, digits and _).",
            )
        # The page draws one input per field, so each field has one type (a list such as
        # ["string", "null"] is valid JSON Schema but no input can take it).
        kind = schema_resolve(schema, node if isinstance(node, dict) else {}).get("type", "")
        if not isinstance(kind, str):
            raise _schema_error(
                f'回答フォームの項目「{name}」の type は1つにしてください（例: "string"）。',
                f'The field {name!r} must have one type (for example "string"), not a list.',
            )


def prefill_check(prefill: Any, schema: dict[str, Any]) -> list[dict[str, str]]:
    """The pre-fill mapping, each field of the form from one path in one of the resident's categories."""
    if prefill in (None, []):
        return []
    if not isinstance(prefill, list) or len(prefill) > len(schema["properties"]):
        raise _schema_error(
            "事前入力の指定はリストにしてください。", "The prefill must be a list.", "invalid_prefill"
        )
    checked, seen = [], set()
    for item in prefill:
        name = item.get("field") if isinstance(item, dict) else None
        source = item.get("from") if isinstance(item, dict) else None
        match = PREFILL_SOURCE.fullmatch(source) if isinstance(source, str) else None
        if name not in schema["properties"] or name in seen:
            raise _schema_error(
                f"事前入力の項目「{str(name)[:64]}」が回答フォームにありません。",
                f"The prefilled field {str(name)[:64]!r} is not a field of the form (or is named twice).",
                "invalid_prefill",
            )
        if match is None or match.group(1) not in MYINFO_CATEGORIES:
            raise _schema_error(
                f"事前入力の参照先「{str(source)[:80]}」は使えません（例: household.members）。",
                f"The prefill source {str(source)[:80]!r} is not one of the resident's information "
                "categories followed by a path (for example household.members).",
                "invalid_prefill",
            )
        seen.add(name)
        checked.append({"field": name, "from": source})
    return checked


@dataclass
class FormField:
    """One field as the page draws it."""

    name: str
    label_ja: str
    label_en: str
    description: str
    kind: str  # text, textarea, date, select, integer, number, boolean, fixed
    required: bool
    choices: list[str] = field(default_factory=list)
    value: Any = None
    prefilled: bool = False
    error: bool = False
    # A fixed value (a list or object) made readable for the page (portal.myinfo.presentation).
    display: Any = None

    def label(self, language: str) -> str:
        return self.label_en if language == "en" and self.label_en else self.label_ja


def schema_resolve(schema: dict[str, Any], node: dict[str, Any]) -> dict[str, Any]:
    ref = node.get("$ref")
    if isinstance(ref, str) and ref.startswith("#/"):
        target: Any = schema
        for part in ref[2:].split("/"):
            target = (
                target.get(part.replace("~1", "/").replace("~0", "~"), {}) if isinstance(target, dict) else {}
            )
        if not isinstance(target, dict):  # a reference to a list or a value is no field
            target = {}
        return {**target, **{k: v for k, v in node.items() if k != "$ref"}}
    return node


def _kind(node: dict[str, Any]) -> str:
    kind = node.get("type")
    if "enum" in node and all(isinstance(v, str) for v in node["enum"]):
        return "select"
    if kind == "string":
        if node.get("format") == "date":
            return "date"
        return "textarea" if int(node.get("maxLength", 200)) > 200 else "text"
    if kind in {"integer", "number", "boolean"}:
        return kind
    return "fixed"


def form_fields(schema: dict[str, Any], order: list[str] | None = None) -> list[FormField]:
    """The form's fields, in ``order`` (the agency's) when given."""
    required = set(schema.get("required", []))
    properties = schema["properties"]
    names = [n for n in (order or []) if n in properties] or list(properties)
    fields = []
    for name in names:
        raw = properties[name]
        node = schema_resolve(schema, raw if isinstance(raw, dict) else {})
        fields.append(
            FormField(
                name=name,
                label_ja=str(node.get("title") or name),
                label_en=str(node.get("x-title-en") or ""),
                description=str(node.get("description") or ""),
                kind=_kind(node),
                required=name in required,
                choices=[str(v) for v in node.get("enum", [])],
            )
        )
    return fields


def form_parse(fields: list[FormField], data: QueryDict, fixed: dict[str, Any]) -> dict[str, Any]:
    """The answer object from the posted inputs; fixed (pre-filled, not editable) fields from ``fixed``.

    Unreadable numbers are kept as text, so that the schema check reports them like any other mistake.
    """
    answer: dict[str, Any] = {}
    for f in fields:
        if f.kind == "fixed":
            if f.name in fixed:
                answer[f.name] = fixed[f.name]
            continue
        if f.kind == "boolean":
            answer[f.name] = data.get(f.name) == "on"
            continue
        raw = (data.get(f.name) or "").strip()
        if raw == "":
            continue
        if f.kind == "integer":
            answer[f.name] = int(raw) if re.fullmatch(r"-?\d{1,15}", raw) else raw
        elif f.kind == "number":
            try:
                answer[f.name] = float(raw) if "." in raw else int(raw)
            except ValueError:
                answer[f.name] = raw
        else:
            answer[f.name] = raw
    return answer


def answer_errors(schema: dict[str, Any], answer: Any) -> list[str]:
    """Names of the fields whose values the schema refuses (``""`` for a refusal of the whole answer)."""
    cls = validators.validator_for(schema, default=Draft202012Validator)
    validator = cls(schema, format_checker=cls.FORMAT_CHECKER)
    names: list[str] = []
    for error in validator.iter_errors(answer):
        if error.path:
            names.append(str(error.path[0]))
        elif error.validator == "required" and isinstance(answer, dict):
            names.extend(n for n in error.validator_value if n not in answer)
        elif error.validator == "additionalProperties" and isinstance(answer, dict):
            names.extend(n for n in answer if n not in schema.get("properties", {}))
        else:
            names.append("")
    return list(dict.fromkeys(names))
