"""Pydantic models of the HTTP contract, for response validation and the OpenAPI description.

This module must never contain behaviour: only shapes, descriptions and examples.
"""

from __future__ import annotations

import operator
import unicodedata
from datetime import date, datetime
from functools import reduce
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictBool,
    StrictStr,
    model_validator,
)

from .categories import DATA_MODELS

_CODE_EXAMPLE = "M3Q4X2VJ7RZK5PDW6YTB2HNC4A"


class ErrorResponse(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"error": "replayed_assertion", "message": "This assertion (jti) ..."}]
        }
    )

    error: str = Field(description="Machine-readable code", examples=["expired_assertion"])
    message: str = Field(description="English explanation", examples=["The assertion has expired."])


class Health(BaseModel):
    status: Literal["ok"] = "ok"


class IdentityRecord(BaseModel):
    """What the agency has recorded about the person it knows by this code."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "agency_code": _CODE_EXAMPLE,
                    "name": "山田 花子",
                    "name_kana": "ヤマダ ハナコ",
                    "birth_date": "1985-07-07",
                    "sex": "2",
                    "address": "東京都千代田区永田町一丁目6番1号",
                }
            ]
        }
    )

    agency_code: str = Field(description="機関別符号: this agency's code for the person")
    name: str
    name_kana: str
    birth_date: date
    sex: Literal["1", "2", "9"] = Field(description="1 male, 2 female, 9 other")
    address: str


class Subject(BaseModel):
    """Who the agency believes the data is about; the portal must compare it with its resident."""

    name: str = Field(examples=["佐藤 美咲"])
    name_kana: str = Field(examples=["サトウ ミサキ"])
    birth_date: date = Field(examples=["1990-04-12"])


# Known categories document their own schema; any other category is an object of its own shape.
CategoryData = Annotated[
    reduce(operator.or_, [*DATA_MODELS.values(), dict[str, Any]]),  # type: ignore[valid-type]
    Field(description="Category-specific payload (see the category schemas)"),
]


class SelfInformation(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "agency_id": "municipal-child",
                    "agency_code": _CODE_EXAMPLE,
                    "category": "child_allowance",
                    "as_of": "2026-11-23T10:00:00+09:00",
                    "subject": {
                        "name": "山田 花子",
                        "name_kana": "ヤマダ ハナコ",
                        "birth_date": "1985-07-07",
                    },
                    "data": {"records": []},
                }
            ]
        }
    )

    agency_id: str = Field(examples=["municipal-resident"])
    agency_code: str
    category: str = Field(examples=["household"])
    as_of: datetime = Field(description="When the agency produced this answer (JST)")
    subject: Subject
    data: CategoryData


class FaultSettings(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"latency_ms": 1500, "error_rate": 0.2, "outage": False, "retry_after_s": 30}]
        }
    )

    latency_ms: int = Field(ge=0, le=120_000, description="Delay added before every answer")
    error_rate: float = Field(ge=0.0, le=1.0, description="Share of requests answered with an injected 500")
    outage: bool = Field(description="Answer every request with 503 and Retry-After")
    retry_after_s: int = Field(ge=1, le=86_400, description="Retry-After sent during an outage")


class FaultSettingsUpdate(BaseModel):
    """Fields left out keep their current value."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"outage": True}]})

    latency_ms: int | None = Field(default=None, ge=0, le=120_000)
    error_rate: float | None = Field(default=None, ge=0.0, le=1.0)
    outage: bool | None = None
    retry_after_s: int | None = Field(default=None, ge=1, le=86_400)


class FaultStatus(FaultSettings):
    agency_id: str
    source: Literal["default", "override"] = Field(description="Environment defaults or a control request")


class Party(BaseModel):
    """An organisation on either end of an exchange over the information provision network."""

    model_config = ConfigDict(extra="forbid")

    id: str = Field(pattern=r"^[a-z0-9][a-z0-9-]{0,63}$", examples=["municipal-child"])
    name_ja: str = Field(min_length=1, max_length=200, examples=["横浜市中区 子育て支援課"])
    name_en: str = Field(
        min_length=1, max_length=200, examples=["Child support division, Naka Ward, Yokohama"]
    )


class ProvisionRecord(BaseModel):
    """情報提供等記録: one exchange between two agencies about the resident."""

    model_config = ConfigDict(extra="forbid")

    id: str = Field(
        pattern=r"^[A-Za-z0-9][A-Za-z0-9-]{0,63}$",
        description="Stable for the life of the record: the same exchange always has the same id",
        examples=["IPR-3F9A0C1D5E7B2468"],
    )
    occurred_at: datetime = Field(description="When the provider answered (JST, +09:00)")
    requester: Party = Field(description="情報照会者: the agency that asked")
    provider: Party = Field(description="情報提供者: the agency that answered")
    procedure_ja: str = Field(
        min_length=1, max_length=300, description="事務: the procedure the question served"
    )
    procedure_en: str = Field(min_length=1, max_length=300)
    legal_basis: str = Field(
        min_length=1, max_length=300, description="根拠: the provision of the My Number Act"
    )
    items_ja: str = Field(min_length=1, max_length=300, description="特定個人情報名: what was provided")
    items_en: str = Field(min_length=1, max_length=300)
    status: Literal["provided", "no_record"] = Field(
        description="provided: 提供済み; no_record: the provider held nothing on the matter (該当なし)"
    )


class ProvisionRecords(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "agency_code": _CODE_EXAMPLE,
                    "as_of": "2026-11-23T10:00:00+09:00",
                    "records": [
                        {
                            "id": "IPR-3F9A0C1D5E7B2468",
                            "occurred_at": "2025-08-04T10:21:37+09:00",
                            "requester": {
                                "id": "municipal-child",
                                "name_ja": "横浜市中区 子育て支援課",
                                "name_en": "Child support division, Naka Ward, Yokohama",
                            },
                            "provider": {
                                "id": "municipal-tax",
                                "name_ja": "横浜市中区 税務課",
                                "name_en": "Tax division, Naka Ward, Yokohama",
                            },
                            "procedure_ja": "児童扶養手当の支給に関する事務（現況届）",
                            "procedure_en": "Child-rearing allowance (yearly status report)",
                            "legal_basis": (
                                "行政手続における特定の個人を識別するための番号の利用等に関する法律"
                                " 別表第二 項番57"
                            ),
                            "items_ja": "地方税関係情報（所得・控除）",
                            "items_en": "Local tax information (income and deductions)",
                            "status": "provided",
                        }
                    ],
                }
            ]
        }
    )

    agency_code: str = Field(description="機関別符号: the network's code for the resident")
    as_of: datetime = Field(description="When the network produced this answer (JST)")
    records: list[ProvisionRecord] = Field(description="Oldest first; empty when there were no exchanges")


class MislinkObserved(BaseModel):
    """Which identity attributes did not match: flags only, never the portal's values."""

    model_config = ConfigDict(extra="forbid")

    name: StrictBool | None = Field(default=None, description="The name differs from the resident's")
    name_kana: StrictBool | None = Field(default=None, description="The name in kana differs")
    birth_date: StrictBool | None = Field(default=None, description="The birth date differs")

    @model_validator(mode="after")
    def _some_mismatch(self) -> MislinkObserved:
        if not any((self.name, self.name_kana, self.birth_date)):
            raise ValueError("observed must flag at least one mismatching attribute")
        return self


class MislinkReportRequest(BaseModel):
    """誤登録の連絡: the portal tells the agency that a record under this code is not the resident's."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "category": "health_insurance",
                    "reason": "identity_mismatch",
                    "observed": {"name": True, "birth_date": True},
                    "reported_at": "2026-11-23T10:00:00+09:00",
                }
            ]
        },
    )

    category: str = Field(
        pattern=r"^[a-z][a-z0-9_]{0,63}$",
        description="The self-information category whose payload did not match",
        examples=["health_insurance"],
    )
    reason: str = Field(
        pattern=r"^[a-z][a-z0-9_]{2,63}$",
        description="Short code; identity_mismatch: the subject's attributes are not the resident's",
        examples=["identity_mismatch"],
    )
    observed: MislinkObserved
    reported_at: AwareDatetime = Field(description="When the portal found the mismatch (with an offset)")


class MislinkReportAccepted(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"report_id": "MLR-3F9A0C1D5E7B2468", "status": "received"}]}
    )

    report_id: str = Field(pattern=r"^MLR-[0-9A-F]{16}$", description="The agency's id for the report")
    status: Literal["received"]


class MislinkReport(BaseModel):
    """A stored report, as the control API lists it for tests."""

    report_id: str
    agency_code: str
    category: str
    reason: str
    observed: dict[str, bool]
    reported_at: datetime
    received_at: datetime
    idempotency_key: str


class MislinkReports(BaseModel):
    agency_id: str
    reports: list[MislinkReport] = Field(description="Oldest first")


# --- 口座名義確認: the banks' account-name check ---------------------------------------------------------


def _digits(count: int) -> Any:
    def check(value: str) -> str:
        if len(value) != count or not (value.isascii() and value.isdigit()):
            raise ValueError(f"must be exactly {count} digits (0-9)")
        return value

    return AfterValidator(check)


def _holder_kana(value: str) -> str:
    if not value.strip():
        raise ValueError("must not be blank")
    if any(unicodedata.category(c) == "Cc" for c in value):
        raise ValueError("must not contain control characters")
    return value


BankCode = Annotated[
    StrictStr,
    _digits(4),
    Field(
        description="金融機関コード: 4 digits", json_schema_extra={"pattern": "^[0-9]{4}$"}, examples=["0001"]
    ),
]
BranchCode = Annotated[
    StrictStr,
    _digits(3),
    Field(description="支店コード: 3 digits", json_schema_extra={"pattern": "^[0-9]{3}$"}, examples=["001"]),
]
AccountNumber = Annotated[
    StrictStr,
    _digits(7),
    Field(
        description="口座番号: 7 digits", json_schema_extra={"pattern": "^[0-9]{7}$"}, examples=["1234567"]
    ),
]
AccountType = Annotated[
    Literal["ordinary", "current", "savings"],
    Field(description="預金種目: ordinary 普通, current 当座, savings 貯蓄"),
]
HolderKana = Annotated[
    StrictStr,
    Field(min_length=1, max_length=48, description="口座名義 in kana (any width, hiragana too)"),
    AfterValidator(_holder_kana),
]


class BankCheckRequest(BaseModel):
    """An account the resident wants to register, and the name the portal believes it is held in."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "bank_code": "0001",
                    "branch_code": "001",
                    "account_type": "ordinary",
                    "account_number": "1234567",
                    "holder_kana": "ヤマダ ハナコ",
                }
            ]
        },
    )

    bank_code: BankCode
    branch_code: BranchCode
    account_type: AccountType
    account_number: AccountNumber
    holder_kana: HolderKana


class BankCheckAnswer(BaseModel):
    """The bank's answer: whether the account is open and in that name. Never the name the bank holds."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "check_id": "ANC-3F9A0C1D5E7B2468",
                    "result": "match",
                    "checked_at": "2026-11-23T10:00:00+09:00",
                }
            ]
        }
    )

    check_id: str = Field(pattern=r"^ANC-[0-9A-F]{16}$", description="The service's id for this check")
    result: Literal["match", "name_mismatch", "no_account", "account_closed"] = Field(
        description="match: open and in that name; name_mismatch: open, another name; no_account: no such "
        "account; account_closed: the account was closed (解約済み)"
    )
    checked_at: datetime = Field(description="When the bank answered (JST, +09:00)")


class BankAccount(BaseModel):
    """An account to open at run time (tests, benchmarks); one with the same bank, branch, type and number
    is replaced."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "bank_code": "0001",
                    "branch_code": "001",
                    "account_type": "ordinary",
                    "account_number": "7654321",
                    "holder_kana": "ﾃｽﾄ ﾀﾛｳ",
                    "closed": False,
                }
            ]
        },
    )

    bank_code: BankCode
    branch_code: BranchCode
    account_type: AccountType
    account_number: AccountNumber
    holder_kana: HolderKana
    closed: StrictBool = Field(default=False, description="解約済み: the check answers account_closed")


class BankAccountOpened(BankAccount):
    replaced: bool = Field(description="An account with the same bank, branch, type and number was replaced")


class BankAccountsReset(BaseModel):
    accounts: int = Field(description="How many accounts the banks hold now (those of demo/people.json)")


class BankCheckRecord(BaseModel):
    """A check the service answered, as the control API lists it: never the name that was asked about."""

    check_id: str
    idempotency_key: str
    bank_code: str
    branch_code: str
    account_type: str
    account_number: str
    result: str
    checked_at: datetime


class BankChecks(BaseModel):
    checks: list[BankCheckRecord] = Field(description="Oldest first")


# --- 代理人の登録: the proxies the medical insurer holds as registered ------------------------------------


def _proxy_name(value: str) -> str:
    if not value.strip():
        raise ValueError("must not be blank")
    if any(unicodedata.category(c) in ("Cc", "Cf") for c in value):
        raise ValueError("must not contain control characters")
    return value


def _iso_day(value: Any) -> Any:
    # A day written as YYYY-MM-DD only: not a timestamp, nor a date-time.
    if not isinstance(value, str) or len(value) != 10:
        raise ValueError("must be a date written YYYY-MM-DD")
    return value


RegistrationId = Annotated[
    StrictStr,
    Field(
        pattern=r"^[A-Za-z0-9][A-Za-z0-9-]{7,63}$",
        description="The portal's id for this registration (a UUID): the only thing a proxy's request names",
        examples=["0b5e1c2a-7d4f-4c8e-9a61-3f2d8b7e6c50"],
    ),
]
AgencyCode = Annotated[
    StrictStr,
    Field(
        pattern=r"^[A-Z2-7]{26}$",
        description="機関別符号: this agency's own code for the person",
        examples=[_CODE_EXAMPLE],
    ),
]
Relationship = Annotated[
    Literal["voluntary", "parent", "guardian"],
    Field(description="voluntary 任意代理人 (appointed by the resident), parent 親権者, guardian 成年後見人"),
]


class ProxyParty(BaseModel):
    """The proxy, as this agency knows people: by its own code, and the name on the proxy's own card."""

    model_config = ConfigDict(extra="forbid")

    agency_code: AgencyCode
    name: Annotated[StrictStr, Field(min_length=1, max_length=100), AfterValidator(_proxy_name)]


class ProxyRegistrationRequest(BaseModel):
    """The portal registers a proxy of the resident named by the path's code (代理人の登録)."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "registration_id": "0b5e1c2a-7d4f-4c8e-9a61-3f2d8b7e6c50",
                    "proxy": {"agency_code": "QK7M2ZC4XW5RTB6HN3PDV2JY4A", "name": "田中 由紀"},
                    "relationship": "voluntary",
                    "valid_until": "2027-11-22",
                }
            ]
        },
    )

    registration_id: RegistrationId
    proxy: ProxyParty
    relationship: Relationship
    valid_until: Annotated[
        date,
        BeforeValidator(_iso_day),
        Field(description="The last day the proxy may act (JST), YYYY-MM-DD"),
    ]


class ProxyRegistration(BaseModel):
    """A registration the agency holds: a proxy's requests under its id are answered until it ends."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "registration_id": "0b5e1c2a-7d4f-4c8e-9a61-3f2d8b7e6c50",
                    "agency_code": _CODE_EXAMPLE,
                    "status": "active",
                    "relationship": "voluntary",
                    "valid_until": "2027-11-22",
                    "registered_at": "2026-11-23T10:00:00+09:00",
                }
            ]
        }
    )

    registration_id: str
    agency_code: str = Field(description="The resident the proxy acts for")
    status: Literal["active"]
    relationship: str
    valid_until: date
    registered_at: datetime = Field(description="When the agency took the registration (JST)")


class ProxyWithdrawalRequest(BaseModel):
    """The portal withdraws a registration: the proxy's authority ended."""

    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"reason": "ended_by_principal"}]}
    )

    reason: StrictStr = Field(
        pattern=r"^[a-z][a-z0-9_]{2,63}$",
        description="Short code: ended_by_principal, ended_by_proxy, ended_by_staff, expired",
        examples=["ended_by_principal"],
    )


class ProxyWithdrawal(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "registration_id": "0b5e1c2a-7d4f-4c8e-9a61-3f2d8b7e6c50",
                    "status": "withdrawn",
                    "withdrawn_at": "2026-12-01T09:30:00+09:00",
                }
            ]
        }
    )

    registration_id: str
    status: Literal["withdrawn"]
    withdrawn_at: datetime = Field(description="When the agency first took the withdrawal (JST)")


class ProxyRegistrationRecord(BaseModel):
    """A registration as the control API lists it for tests, with the proxy requests served under it."""

    registration_id: str
    agency_code: str
    proxy_code: str = Field(description="Empty for a withdrawal that arrived before its registration")
    proxy_name: str
    relationship: str
    valid_until: str
    registered_at: datetime | None
    withdrawn_at: datetime | None
    withdrawal_reason: str
    reads: int = Field(description="Proxy requests answered under this registration")
    last_read_at: datetime | None


class ProxyRegistrations(BaseModel):
    agency_id: str
    registrations: list[ProxyRegistrationRecord] = Field(description="Oldest first")
