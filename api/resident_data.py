"""Resident-data API for firms (/api/v1/): what a resident consented to, for the token's consent only.

Thin: `portal.consents.resource` checks the DPoP-bound token, the consent and the firm, records the release
in the resident's access history, and only then is the answer returned.
"""

from typing import Any

from django.http import HttpRequest
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.authentication import BaseAuthentication
from rest_framework.permissions import BasePermission
from rest_framework.response import Response
from rest_framework.views import APIView

from notices.api.serializers import ErrorSerializer
from portal.consents import resource
from portal.consents.models import IssuedToken
from portal.consents.scopes import CATEGORY_SCOPES


class DPoPTokenAuthentication(BaseAuthentication):
    def authenticate(self, request: HttpRequest) -> tuple[IssuedToken, IssuedToken]:
        token = resource.api_token(request)
        return token, token

    def authenticate_header(self, request: HttpRequest) -> str:
        return "DPoP"


class HasConsentToken(BasePermission):
    def has_permission(self, request: HttpRequest, view: Any) -> bool:
        return isinstance(request.auth, IssuedToken)


class AddressSerializer(serializers.Serializer):
    formatted = serializers.CharField()
    country = serializers.CharField()


class UserInfoSerializer(serializers.Serializer):
    sub = serializers.CharField(help_text="pairwise: the same resident has another sub at every other firm")
    name = serializers.CharField(required=False)
    name_kana = serializers.CharField(required=False)
    birthdate = serializers.DateField(required=False)
    gender = serializers.ChoiceField(choices=["male", "female", "other"], required=False)
    address = AddressSerializer(required=False)


class InformationSerializer(serializers.Serializer):
    category = serializers.ChoiceField(choices=sorted(CATEGORY_SCOPES))
    agency = serializers.CharField(help_text="the agency that holds the record")
    as_of = serializers.DateTimeField(allow_null=True, help_text="the agency's 'as of' time")
    data = serializers.DictField(help_text="the category's data, as contracts/self-information/ describes")


class PendingSerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=["fetching"])
    retry_after = serializers.IntegerField()


_DPOP_HEADER = OpenApiParameter(
    "DPoP", OpenApiTypes.STR, OpenApiParameter.HEADER, required=True, description="RFC 9449 proof with ath"
)
_ERRORS = {
    401: OpenApiResponse(ErrorSerializer, description="invalid_token or invalid_dpop_proof"),
    403: OpenApiResponse(ErrorSerializer, description="insufficient_scope"),
    429: OpenApiResponse(ErrorSerializer, description="rate_limited or pull_interval; see Retry-After"),
}


class ResidentDataView(APIView):
    authentication_classes = [DPoPTokenAuthentication]
    permission_classes = [HasConsentToken]


class UserInfo(ResidentDataView):
    @extend_schema(
        operation_id="userinfo",
        summary="The resident's pairwise sub and the basic items granted",
        tags=["resident data"],
        parameters=[_DPOP_HEADER],
        responses={200: UserInfoSerializer, **_ERRORS},
    )
    def get(self, request: HttpRequest) -> Response:
        return Response(resource.userinfo_release(request.auth), headers={"Cache-Control": "no-store"})


class Information(ResidentDataView):
    @extend_schema(
        operation_id="information",
        summary="One category of the resident's information",
        description="From the portal's cache. While the portal fetches it from the agency, 202 with "
        "Retry-After. Every answer is recorded in the resident's access history before it is sent.",
        tags=["resident data"],
        parameters=[
            _DPOP_HEADER,
            OpenApiParameter(
                "category", OpenApiTypes.STR, OpenApiParameter.PATH, enum=sorted(CATEGORY_SCOPES)
            ),
        ],
        responses={
            200: InformationSerializer,
            202: PendingSerializer,
            404: OpenApiResponse(ErrorSerializer, description="unknown_category"),
            409: OpenApiResponse(ErrorSerializer, description="record_unconfirmed (never released)"),
            **_ERRORS,
        },
    )
    def get(self, request: HttpRequest, category: str) -> Response:
        outcome = resource.information_release(request.auth, category)
        if isinstance(outcome, resource.Pending):
            return Response(
                {"status": "fetching", "retry_after": outcome.retry_after},
                status=202,
                headers={"Retry-After": str(outcome.retry_after), "Cache-Control": "no-store"},
            )
        return Response(outcome, headers={"Cache-Control": "no-store"})
