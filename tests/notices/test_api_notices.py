"""Sending notices: idempotency, every kind of bad input refused clearly with nothing saved, read-backs."""

import base64
import datetime as dt

import pytest

from notices import attachments as attachment_store
from notices.models import Notice, NoticeAttachment, NoticeState
from notices.selectors import notice_visible
from tests.notices.conftest import (
    PDF,
    STATUS_REPORT_SCHEMA,
    code_of,
    form_action,
    notice_body,
    pdf_attachment,
    to_resident,
)

pytestmark = pytest.mark.django_db


def _nothing_saved() -> None:
    assert Notice.objects.count() == 0
    assert NoticeAttachment.objects.count() == 0


def test_notice_to_one_resident_by_agency_code(api, resident, other_resident):
    response = api.post_notice(notice_body(to_resident(resident), attachments=[pdf_attachment()]))
    assert response.status_code == 201, response.content
    body = response.json()
    assert response["Location"] == f"/api/agency/v1/notices/{body['id']}"
    assert body["recipient"] == {"type": "resident", "agency_code": code_of(resident)}
    assert body["title"]["ja"] == "児童扶養手当の現況届のご案内"
    assert body["attachments"][0]["size"] == len(PDF)
    assert "delivery" not in body or body["delivery"] is None

    notice = Notice.objects.get()
    assert notice.recipient == resident
    assert notice.sender_name_ja == "市区町村 子育て支援課"
    assert list(notice_visible(resident=resident)) == [notice]
    assert list(notice_visible(resident=other_resident)) == []


def test_same_key_same_body_gives_the_same_notice(api, resident):
    body = notice_body(to_resident(resident))
    first = api.post_notice(body, key="status-report-2026-001")
    again = api.post_notice(body, key="status-report-2026-001")
    assert first.status_code == 201 and again.status_code == 200
    assert first.json()["id"] == again.json()["id"]
    assert Notice.objects.count() == 1


def test_same_key_other_body_is_a_conflict(api, resident):
    api.post_notice(notice_body(to_resident(resident)), key="k-1")
    changed = notice_body(to_resident(resident), category="tax")
    response = api.post_notice(changed, key="k-1")
    assert response.status_code == 409
    body = response.json()
    assert body["error"] == "idempotency_conflict"
    assert "Idempotency-Key" in body["message"]["ja"] and "different content" in body["message"]["en"]
    assert Notice.objects.count() == 1 and Notice.objects.get().category == "child"


def test_same_key_is_per_agency_and_a_new_key_is_a_new_notice(api, resident):
    api.post_notice(notice_body(to_resident(resident)), key="k-1")
    api.post_notice(notice_body(to_resident(resident)), key="k-2")
    assert Notice.objects.count() == 2


def test_idempotency_key_is_required(api, resident):
    response = api.post_notice(notice_body(to_resident(resident)), key=None)
    assert response.status_code == 400
    assert response.json()["error"] == "idempotency_key_missing"
    _nothing_saved()


def _big_pdf(size: int) -> bytes:
    return PDF[:-6] + b" " * (size - len(PDF)) + b"%%EOF\n"


def _nested(depth: int) -> dict:
    node: dict = {"type": "string"}
    for _ in range(depth):
        node = {"type": "array", "items": node}
    return node


BAD_INPUT = {
    "unknown_recipient": (
        lambda r: notice_body({"type": "resident", "agency_code": "A" * 26}),
        422,
        "unknown_recipient",
    ),
    "malformed_recipient_code": (
        lambda r: notice_body({"type": "resident", "agency_code": "not-a-code"}),
        422,
        "recipient_code_malformed",
    ),
    "oversized_body": (
        lambda r: notice_body(to_resident(r), body={"ja": "あ" * 20_001}),
        422,
        "body_too_long",
    ),
    "script_in_body": (
        lambda r: notice_body(to_resident(r), body={"ja": "ご案内\n\n<script>alert(1)</script>"}),
        422,
        "body_html",
    ),
    "inline_html_in_body": (
        lambda r: notice_body(to_resident(r), body={"ja": "ご案内 <img src=x onerror=alert(1)>"}),
        422,
        "body_html",
    ),
    "remote_image_in_body": (
        lambda r: notice_body(to_resident(r), body={"ja": "![ロゴ](https://tracker.example/pixel.png)"}),
        422,
        "body_image",
    ),
    "javascript_link_in_body": (
        lambda r: notice_body(to_resident(r), body={"ja": "[こちら](javascript:alert(1))"}),
        422,
        "body_link",
    ),
    "script_in_english_body": (
        lambda r: notice_body(to_resident(r), body={"ja": "ご案内", "en": "<script>x</script>"}),
        422,
        "body_html",
    ),
    "html_in_title": (
        lambda r: notice_body(to_resident(r), title={"ja": "<b>重要</b>"}),
        422,
        "title_markup",
    ),
    "schema_not_valid_json_schema": (
        lambda r: notice_body(
            to_resident(r),
            action={"type": "form", "schema": {"type": "objekt", "properties": {"a": {"type": "string"}}}},
        ),
        422,
        "invalid_form_schema",
    ),
    "schema_with_bad_keyword_value": (
        lambda r: notice_body(
            to_resident(r),
            action={"type": "form", "schema": {"type": "object", "properties": {"a": {"minLength": "3"}}}},
        ),
        422,
        "invalid_form_schema",
    ),
    "schema_not_an_object_form": (
        lambda r: notice_body(to_resident(r), action={"type": "form", "schema": {"type": "string"}}),
        422,
        "invalid_form_schema",
    ),
    "schema_with_remote_ref": (
        lambda r: notice_body(
            to_resident(r),
            action={
                "type": "form",
                "schema": {"type": "object", "properties": {"a": {"$ref": "https://evil.example/s.json"}}},
            },
        ),
        422,
        "invalid_form_schema",
    ),
    "form_without_schema": (
        lambda r: notice_body(to_resident(r), action={"type": "form"}),
        422,
        "form_schema_missing",
    ),
    "prefill_from_unknown_category": (
        lambda r: notice_body(
            to_resident(r),
            action=form_action(prefill=[{"field": "annual_income", "from": "my_number.value"}]),
        ),
        422,
        "invalid_prefill",
    ),
    "prefill_of_unknown_field": (
        lambda r: notice_body(
            to_resident(r), action=form_action(prefill=[{"field": "nope", "from": "household.members"}])
        ),
        422,
        "invalid_prefill",
    ),
    "deadline_in_the_past": (
        lambda r: notice_body(
            to_resident(r), deadline=(dt.datetime.now(dt.UTC) - dt.timedelta(minutes=1)).isoformat()
        ),
        422,
        "deadline_in_past",
    ),
    "attachment_not_pdf_type": (
        lambda r: notice_body(to_resident(r), attachments=[pdf_attachment(content_type="text/html")]),
        422,
        "attachment_type",
    ),
    "attachment_not_pdf_content": (
        lambda r: notice_body(
            to_resident(r), attachments=[pdf_attachment(b"<html><script>x</script></html>%%EOF")]
        ),
        422,
        "attachment_type",
    ),
    "attachment_bad_filename": (
        lambda r: notice_body(to_resident(r), attachments=[pdf_attachment(filename="../../etc/passwd.pdf")]),
        422,
        "attachment_filename",
    ),
    "attachment_not_base64": (
        lambda r: notice_body(
            to_resident(r), attachments=[pdf_attachment(content_base64="%%%not base64%%%")]
        ),
        422,
        "attachment_encoding",
    ),
    "attachment_too_large": (
        lambda r: notice_body(
            to_resident(r), attachments=[pdf_attachment(), pdf_attachment(_big_pdf(5 * 1024 * 1024 + 1))]
        ),
        413,
        "attachment_too_large",
    ),
    "unknown_category": (
        lambda r: notice_body(to_resident(r), category="lottery"),
        422,
        "unknown_category",
    ),
    "english_title_without_english_body": (
        lambda r: notice_body(to_resident(r), body={"ja": "本文"}),
        422,
        "english_incomplete",
    ),
    "signature_without_answer": (
        lambda r: notice_body(to_resident(r), action={"type": "none", "requires_signature": True}),
        422,
        "signature_without_action",
    ),
    "segment_without_conditions": (
        lambda r: notice_body({"type": "segment"}),
        422,
        "recipient_segment",
    ),
    "age_range_upside_down": (
        lambda r: notice_body({"type": "segment", "min_age": 65, "max_age": 20}),
        422,
        "recipient_age",
    ),
    "malformed_shape": (
        lambda r: {"recipient": "everyone", "title": "x"},
        422,
        "invalid_notice",
    ),
    # Each of these was a 500: the database cannot hold a NUL, jsonschema chokes on a $schema that is no
    # string and on deep nesting, and a field with a list of types broke every recipient's notice page.
    "nul_in_title": (
        lambda r: notice_body(to_resident(r), title={"ja": "ご案内\x00", "en": "Notice"}),
        400,
        "malformed_request",
    ),
    "nul_in_a_key": (
        lambda r: notice_body(
            to_resident(r), action=form_action(schema={**STATUS_REPORT_SCHEMA, "x\x00": 1})
        ),
        400,
        "malformed_request",
    ),
    "schema_dialect_not_a_string": (
        lambda r: notice_body(
            to_resident(r), action=form_action(schema={**STATUS_REPORT_SCHEMA, "$schema": 5})
        ),
        422,
        "invalid_form_schema",
    ),
    "schema_nested_too_deeply": (
        lambda r: notice_body(
            to_resident(r),
            action=form_action(schema={"type": "object", "properties": {"deep": _nested(200)}}, prefill=[]),
        ),
        422,
        "invalid_form_schema",
    ),
    "field_with_a_list_of_types": (
        lambda r: notice_body(
            to_resident(r),
            action=form_action(
                schema={"type": "object", "properties": {"note": {"type": ["string", "null"]}}}, prefill=[]
            ),
        ),
        422,
        "invalid_form_schema",
    ),
}


@pytest.mark.parametrize("case", BAD_INPUT, ids=list(BAD_INPUT))
def test_bad_input_is_refused_clearly_and_nothing_is_saved(api, resident, case):
    make, status, code = BAD_INPUT[case]
    response = api.post_notice(make(resident))
    assert response.status_code == status, response.content
    body = response.json()
    assert body["error"] == code
    assert body["message"]["ja"] and body["message"]["en"]
    assert body["message"]["ja"] != body["message"]["en"]
    _nothing_saved()
    # The same key can be used once the notice is right: nothing of the refused attempt remains.
    assert api.post_notice(notice_body(to_resident(resident))).status_code == 201


@pytest.mark.parametrize(
    ("raw", "content_type", "status", "code"),
    [
        (b'{"recipient": ', "application/json", 400, "malformed_request"),
        (b"\xff\xfe{}", "application/json", 400, "malformed_request"),  # not UTF-8
        (b"[" * 20_000 + b"]" * 20_000, "application/json", 400, "malformed_request"),  # past the decoder
        (b'{"a": 1}', "text/plain", 415, "unsupported_media_type"),
        (b"recipient=everyone", "application/x-www-form-urlencoded", 415, "unsupported_media_type"),
    ],
    ids=["truncated", "not-utf-8", "nested-too-deeply", "text-plain", "form-encoded"],
)
def test_what_is_not_json_is_refused_in_both_languages_and_nothing_is_saved(
    api, resident, raw, content_type, status, code
):
    response = api.http.post(
        "/api/agency/v1/notices",
        data=raw,
        content_type=content_type,
        HTTP_IDEMPOTENCY_KEY="k-raw",
        HTTP_ACCEPT_LANGUAGE="ja",  # DRF's own words would come in Japanese: "en" must stay English
        **api.headers(),
    )
    assert response.status_code == status and response.json()["error"] == code
    message = response.json()["message"]
    assert not message["ja"].isascii() and message["en"].isascii() and message["en"]
    _nothing_saved()


def test_request_over_the_size_limit_is_refused_unread(api, resident, settings):
    settings.NOTICE_REQUEST_MAX_BYTES = 1000
    response = api.post_notice(notice_body(to_resident(resident), body={"ja": "あ" * 2000}))
    assert response.status_code == 413 and response.json()["error"] == "request_too_large"
    _nothing_saved()


@pytest.mark.parametrize("declared", ["²", "-1", "12a"])
def test_a_content_length_that_is_no_number_is_refused_unread(api, resident, declared):
    response = api.http.post(
        "/api/agency/v1/notices",
        data=b"{}",
        content_type="application/json",
        CONTENT_LENGTH=declared,
        HTTP_IDEMPOTENCY_KEY="k-length",
        **api.headers(),
    )
    assert response.status_code == 413 and response.json()["error"] == "request_too_large"
    _nothing_saved()


def test_a_failure_while_storing_leaves_nothing_half_saved(api, resident, monkeypatch):
    calls = []
    real = attachment_store.attachment_encrypt

    def failing_second(content, *, public_id):
        calls.append(public_id)
        if len(calls) == 2:
            raise RuntimeError("disk full")
        return real(content, public_id=public_id)

    monkeypatch.setattr(attachment_store, "attachment_encrypt", failing_second)
    api.http.raise_request_exception = False
    response = api.post_notice(notice_body(to_resident(resident), attachments=[pdf_attachment()] * 2))
    assert response.status_code == 500
    _nothing_saved()


def test_markdown_subset_and_https_links_are_accepted(api, resident):
    text = "**重要**\n\n1. 一つ目\n2. 二つ目\n\n<https://www.example.go.jp/>\n\n# 見出しはそのまま文字"
    response = api.post_notice(notice_body(to_resident(resident), body={"ja": text, "en": "ok"}))
    assert response.status_code == 201, response.content


def test_read_back_with_delivery_counts(api, resident):
    notice_id = api.post_notice(notice_body(to_resident(resident))).json()["id"]
    body = api.get(f"notices/{notice_id}").json()
    assert body["delivery"] == {"delivered": 1, "read": 0, "responded": 0}
    NoticeState.objects.create(
        notice=Notice.objects.get(), resident=resident, read_at=dt.datetime.now(dt.UTC)
    )
    assert api.get(f"notices/{notice_id}").json()["delivery"] == {"delivered": 1, "read": 1, "responded": 0}
    assert api.get("notices/not-a-uuid").status_code == 404
    assert api.get("notices/00000000-0000-0000-0000-000000000000").status_code == 404


def test_form_notice_keeps_its_schema(api, resident):
    body = notice_body(to_resident(resident), action=form_action(requires_signature=True))
    response = api.post_notice(body)
    assert response.status_code == 201, response.content
    notice = Notice.objects.get()
    assert notice.form_schema == STATUS_REPORT_SCHEMA
    assert notice.requires_signature and response.json()["requires_signature"]


def test_attachment_is_stored_encrypted(api, resident):
    api.post_notice(notice_body(to_resident(resident), attachments=[pdf_attachment()]))
    stored = NoticeAttachment.objects.get()
    assert b"%PDF" not in bytes(stored.ciphertext)
    assert base64.b64encode(PDF) not in bytes(stored.ciphertext)
    plain = attachment_store.attachment_decrypt(
        stored.ciphertext, key_id=stored.key_id, public_id=stored.public_id
    )
    assert plain == PDF


def test_openapi_describes_the_agency_api(client):
    response = client.get("/api/schema/", HTTP_ACCEPT="application/json")
    assert response.status_code == 200
    schema = response.json()
    assert "/api/agency/v1/notices" in schema["paths"]
    assert "/api/agency/v1/notices/{notice_id}/responses" in schema["paths"]
    operation = schema["paths"]["/api/agency/v1/notices"]["post"]
    assert any(p["name"] == "Idempotency-Key" and p["in"] == "header" for p in operation["parameters"])
    assert "agencyClientAssertion" in schema["components"]["securitySchemes"]
