"""Agency API: an agency looks up a resident's public-fund account for a stated payment.

POST, so that neither the agency's code for the resident nor the purpose lands in access logs. Thin: the
service checks, records the release in the resident's history, and only then is the account answered.
"""

from typing import Any

from django.http import HttpRequest
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.response import Response

from notices.api.serializers import ErrorSerializer
from notices.api.views import AgencyAPIView
from portal.account import services
from portal.core.errors import PortalError


class AccountLookupRequest(serializers.Serializer):
    agency_code = serializers.CharField(
        max_length=64, help_text="your agency's code for the resident (機関別符号)"
    )
    purpose = serializers.CharField(
        max_length=services.PURPOSE_MAX,
        help_text="the payment the account is for, as the resident will read it",
    )


class AccountLookupAnswer(serializers.Serializer):
    bank_code = serializers.CharField()
    bank_name = serializers.CharField()
    branch_code = serializers.CharField()
    branch_name = serializers.CharField()
    account_type = serializers.ChoiceField(choices=["ordinary", "current", "savings"])
    account_number = serializers.CharField()
    holder_kana = serializers.CharField()
    verified_at = serializers.DateTimeField()


class AccountLookup(AgencyAPIView):
    @extend_schema(
        operation_id="public_fund_account_lookup",
        summary="The resident's public-fund account, for a payment (公金受取口座の照会)",
        description="Answers only an account the bank verified and staff have not put under review. The "
        "look-up, with your agency's name and the purpose, is recorded in the resident's access history "
        "before the answer is sent.",
        tags=["agency"],
        request=AccountLookupRequest,
        responses={
            200: AccountLookupAnswer,
            401: OpenApiResponse(
                ErrorSerializer, description="no, bad, expired or replayed client assertion"
            ),
            404: OpenApiResponse(ErrorSerializer, description="unknown_code or account_not_registered"),
            409: OpenApiResponse(ErrorSerializer, description="account_under_review: staff are reviewing it"),
            422: OpenApiResponse(ErrorSerializer, description="invalid request (purpose_required, ...)"),
        },
    )
    def post(self, request: HttpRequest) -> Response:
        body = AccountLookupRequest(data=request.data if isinstance(request.data, dict) else {})
        if not body.is_valid():
            raise PortalError(
                "invalid_request",
                "照会の内容が正しくありません（agency_code と purpose が必要です）。",
                "The request is not valid: send agency_code and purpose.",
                422,
                extra={"fields": sorted(body.errors)},
            )
        data: dict[str, Any] = body.validated_data
        account = services.account_lookup_for_agency(
            client=request.user, agency_code=data["agency_code"], purpose=data["purpose"]
        )
        return Response(
            {
                "bank_code": account.bank_code,
                "bank_name": account.bank_name,
                "branch_code": account.branch_code,
                "branch_name": account.branch_name,
                "account_type": account.account_type,
                "account_number": account.number,
                "holder_kana": account.holder_kana,
                "verified_at": account.verified_at.isoformat(),
            }
        )
