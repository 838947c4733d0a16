"""The APIs' error format: PortalError and DRF's own errors become {"error", "message": {"ja", "en"}}."""

from typing import Any

from rest_framework.response import Response
from rest_framework.views import exception_handler

from portal.core.errors import PortalError


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
        response.data = {
            "error": code,
            "message": {
                "ja": "要求を処理できませんでした。",
                "en": str(detail or "The request was refused."),
            },
            "details": response.data if detail is None else None,
        }
    return response
