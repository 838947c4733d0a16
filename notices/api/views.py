"""The agency API (/api/agency/v1/): send notices, read their delivery state and the residents' answers.

Thin: each view parses, calls one service or selector and answers. Errors are PortalErrors, rendered by
api.errors as {"error", "message": {"ja", "en"}, ...}.
"""

import re
from typing import Any

from django.http import HttpRequest
from django.urls import reverse
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework.response import Response
from rest_framework.views import APIView

from notices import selectors, services
from notices.api.auth import AgencyClientAuthentication, IsAgencyClient
from notices.api.parsers import NoticeJSONParser
from notices.api.serializers import (
    ErrorSerializer,
    NoticeCreateSerializer,
    NoticeSerializer,
    ResponsePageSerializer,
)
from notices.conf import conf
from notices.models import Notice
from portal.agencies.codes import agency_code
from portal.core.bodies import declared_length_fits
from portal.core.errors import PortalError

IDEMPOTENCY_KEY = re.compile(r"[\x21-\x7e]{1,200}")
RESPONSES_PAGE = 100

_ERRORS = {
    401: OpenApiResponse(ErrorSerializer, description="no, bad, expired or replayed client assertion"),
    404: OpenApiResponse(ErrorSerializer, description="no such notice of your agency"),
}


def _not_found() -> PortalError:
    return PortalError("not_found", "お知らせが見つかりません。", "No such notice of your agency.", 404)


def _notice_body(notice: Notice, *, with_delivery: bool) -> dict[str, Any]:
    context: dict[str, Any] = {}
    if notice.recipient_id is not None:
        context["recipient_code"] = agency_code(
            my_number=notice.recipient.my_number, agency_id=notice.agency_id
        )
    if with_delivery:
        context["delivery"] = selectors.notice_delivery_counts(notice=notice)
    return NoticeSerializer(notice, context=context).data


class AgencyAPIView(APIView):
    authentication_classes = [AgencyClientAuthentication]
    permission_classes = [IsAgencyClient]


class NoticeCollection(AgencyAPIView):
    parser_classes = [NoticeJSONParser]

    @extend_schema(
        operation_id="notice_create",
        summary="Send a notice",
        description=(
            "To one resident (by your agency code for them), a segment (a municipality by address prefix, "
            "an age range) or everyone. A broadcast is stored once. The same Idempotency-Key with the same "
            "body gives the same notice (200); with another body, 409. Nothing is stored on any error."
        ),
        tags=["agency"],
        request=NoticeCreateSerializer,
        parameters=[
            OpenApiParameter(
                "Idempotency-Key",
                str,
                OpenApiParameter.HEADER,
                required=True,
                description="1-200 printable ASCII",
            )
        ],
        responses={
            201: NoticeSerializer,
            200: OpenApiResponse(NoticeSerializer, description="a repeat of an earlier request"),
            400: OpenApiResponse(ErrorSerializer, description="no Idempotency-Key, or not JSON"),
            401: _ERRORS[401],
            409: OpenApiResponse(ErrorSerializer, description="Idempotency-Key used with another body"),
            413: OpenApiResponse(ErrorSerializer, description="request or attachment too large"),
            422: OpenApiResponse(ErrorSerializer, description="the notice breaks a rule (error says which)"),
        },
    )
    def post(self, request: HttpRequest) -> Response:
        if not declared_length_fits(request, conf("NOTICE_REQUEST_MAX_BYTES")):
            raise PortalError(
                "request_too_large",
                "送信データが大きすぎます。",
                f"The request is too large (at most {conf('NOTICE_REQUEST_MAX_BYTES'):,} bytes).",
                413,
            )
        key = request.headers.get("Idempotency-Key", "")
        if not IDEMPOTENCY_KEY.fullmatch(key):
            raise PortalError(
                "idempotency_key_missing",
                "Idempotency-Key ヘッダー（1〜200文字の英数記号）が必要です。",
                "The Idempotency-Key header (1 to 200 printable ASCII characters) is required.",
                400,
            )
        body = request.data
        if not isinstance(body, dict):
            raise PortalError(
                "malformed_request",
                "送信データはJSONオブジェクトにしてください。",
                "The body must be a JSON object.",
                400,
            )
        client = request.user
        digest = services.notice_request_digest(body)
        notice = services.notice_replay(client=client, idempotency_key=key, request_digest=digest)
        created = False
        if notice is None:
            serializer = NoticeCreateSerializer(data=body)
            if not serializer.is_valid():
                raise PortalError(
                    "invalid_notice",
                    "お知らせの形式に誤りがあります（details を参照してください）。",
                    "The notice is malformed (see details).",
                    422,
                    extra={"details": serializer.errors},
                )
            notice, created = services.notice_create(
                client=client, idempotency_key=key, request_digest=digest, draft=serializer.to_draft()
            )
        location = reverse("agency-api:notice", args=[notice.public_id])
        return Response(
            _notice_body(notice, with_delivery=False),
            status=201 if created else 200,
            headers={"Location": location},
        )


class NoticeDetail(AgencyAPIView):
    @extend_schema(
        operation_id="notice_get",
        summary="A notice and its delivery, read and response counts",
        tags=["agency"],
        responses={200: NoticeSerializer, **_ERRORS},
    )
    def get(self, request: HttpRequest, notice_id: str) -> Response:
        notice = selectors.notice_for_client(client=request.user, public_id=notice_id)
        if notice is None:
            raise _not_found()
        return Response(_notice_body(notice, with_delivery=True))


class NoticeResponses(AgencyAPIView):
    @extend_schema(
        operation_id="notice_responses",
        summary="Residents' answers to a notice, oldest first",
        description="Each answer also reaches your webhook as a signed notice.response event.",
        tags=["agency"],
        parameters=[OpenApiParameter("after", str, description="the last id of the previous page")],
        responses={200: ResponsePageSerializer, **_ERRORS},
    )
    def get(self, request: HttpRequest, notice_id: str) -> Response:
        notice = selectors.notice_for_client(client=request.user, public_id=notice_id)
        if notice is None:
            raise _not_found()
        page = selectors.notice_responses_page(
            notice=notice, after=request.query_params.get("after") or None, limit=RESPONSES_PAGE
        )
        results = [services.response_document(r) for r in page]
        next_after = results[-1]["id"] if len(results) == RESPONSES_PAGE else None
        return Response({"results": results, "next_after": next_after})
