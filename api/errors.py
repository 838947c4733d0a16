"""The APIs' error format: PortalError and DRF's own errors become {"error", "message": {"ja", "en"}}.

DRF words its own errors in the request's language (Japanese by default), so they are worded here again,
once in each language, by their code; "en" is never Japanese.
"""

from typing import Any

from django.utils import translation
from rest_framework.exceptions import APIException
from rest_framework.response import Response
from rest_framework.views import exception_handler

from portal.core.errors import PortalError

DRF_MESSAGES = {
    "parse_error": (
        "送信データの形式が正しくありません（JSONとして読めません）。",
        "The body is malformed: it cannot be read as JSON.",
    ),
    "unsupported_media_type": (
        "この形式（Content-Type）の送信データには対応していません。application/json で送ってください。",
        "This Content-Type is not supported. Send application/json.",
    ),
    "method_not_allowed": (
        "このアドレスでは {method} は使えません。",
        "{method} is not allowed here.",
    ),
    "not_acceptable": (
        "求められた応答の形式には対応していません。application/json を受け付けてください。",
        "The response format asked for is not available. Accept application/json.",
    ),
    "throttled": (
        "要求が多すぎます。しばらくしてからお試しください。",
        "Too many requests. Please try again later.",
    ),
    "not_authenticated": ("認証情報がありません。", "No credentials were sent."),
    "authentication_failed": ("認証できませんでした。", "Authentication failed."),
    "permission_denied": ("この操作は許可されていません。", "This is not allowed."),
    "not_found": ("見つかりません。", "Not found."),
    "invalid_request": (
        "送信データの内容が正しくありません（details を参照してください）。",
        "The request is not valid (see details).",
    ),
}


def _english_default(exc: Exception) -> str:
    if isinstance(exc, APIException):
        with translation.override("en"):
            return str(exc.default_detail)
    return "The request was refused."


def api_exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    if isinstance(exc, PortalError):
        body = exc.as_json()
        challenge = body.pop("www_authenticate", None)
        response = Response(body, status=exc.status)
        if challenge:
            response["WWW-Authenticate"] = challenge
        if "retry_after" in exc.extra:
            response["Retry-After"] = str(exc.extra["retry_after"])
        return response
    response = exception_handler(exc, context)
    if response is not None:
        detail = response.data.get("detail") if isinstance(response.data, dict) else None
        code = getattr(detail, "code", None) or "invalid_request"
        ja, en = DRF_MESSAGES.get(code, ("要求を処理できませんでした。", _english_default(exc)))
        request = context.get("request")
        method = getattr(request, "method", "")
        response.data = {
            "error": code,
            "message": {"ja": ja.replace("{method}", method), "en": en.replace("{method}", method)},
            "details": response.data if detail is None else None,
        }
    return response
