"""The FastAPI application: the agencies' HTTP API and the fault-control endpoints.

Checks run in the contract's order of consequence: unknown agency (404), injected faults (latency, 503,
500), client assertion (401), unknown code or category (404). This module must never import the Django
portal and must never answer agency data to a request whose assertion was not verified.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import secrets
from datetime import date, datetime
from typing import Any

from fastapi import Depends, FastAPI, Header, Query, Request, Security
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from fastapi.security import APIKeyHeader, HTTPBearer
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException

from .auth import AssertionVerifier
from .bank import BANK_CHECK_AGENCY_ID, check_result, seed_accounts
from .config import Settings
from .errors import ApiError
from .faults import FaultInjector
from .models import (
    BankAccount,
    BankAccountOpened,
    BankAccountsReset,
    BankCheckAnswer,
    BankCheckRequest,
    BankChecks,
    ErrorResponse,
    FaultSettingsUpdate,
    FaultStatus,
    Health,
    IdentityRecord,
    MislinkReportAccepted,
    MislinkReportRequest,
    MislinkReports,
    ProvisionRecords,
    ProxyRegistration,
    ProxyRegistrationRequest,
    ProxyRegistrations,
    ProxyWithdrawal,
    ProxyWithdrawalRequest,
    SelfInformation,
)
from .provision import PROVISION_CATEGORY
from .proxies import (
    PROXY_HEADER,
    keeps_proxy_registrations,
    not_served,
    proxy_refusal,
    registration_fingerprint,
)
from .seed import JST, load_people
from .sender import SENDER_CLIENT_IDS, WebhookRefused, sender_credentials, webhook_verify
from .store import (
    AgencyRow,
    BankAccountRow,
    FaultRow,
    IdempotencyConflict,
    ProxyRegistrationRow,
    RegistrationWithdrawn,
    ResidentRow,
    Store,
)

#: Idempotency-Key values: visible ASCII, as the IETF draft's examples (UUIDs and the like).
_IDEMPOTENCY_KEY = re.compile(r"[\x21-\x7e]{1,255}")
#: A proxy registration id, as ProxyRegistrationRequest.registration_id allows it.
_REGISTRATION_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9-]{7,63}")

DESCRIPTION = """
Stands in for every government agency the portal fetches self-information from (自己情報取得).

* Each agency lives under `/agencies/<agency_id>/` and knows residents **only** by its agency-specific
  code (機関別符号) — never by My Number.
* Every agency request carries a client assertion: `Authorization: Bearer <JWT>` signed ES256 by the
  portal, `iss` = `sub` = `myna-portal`, `aud` = this simulator's URL for the agency, lifetime ≤ 300 s,
  single-use `jti`.
* Refusals are `{"error": "<code>", "message": "<English>"}`: 401 bad assertion, 404 unknown agency, code
  or category, 503 outage (with `Retry-After`), 500 injected error.
* The information provision network (`info-network`) also serves each resident's information-provision
  records (情報提供等記録): which agency asked which, for what procedure, under which law, and when.
* The portal reports a record whose `subject` is not its resident (`POST …/mislink-reports`, 誤登録の連絡),
  with mismatch flags only and an `Idempotency-Key`.
* The banks' account-name check (口座名義確認, `bank-check`) tells the portal whether an account is open
  and held in a given kana name (`POST /agencies/bank-check/v1/account-name-checks`): the answer is
  `match`, `name_mismatch`, `no_account` or `account_closed`, never the name the bank holds.
* Each category's `data` follows the JSON Schema in `contracts/self-information/<category>.schema.json`.
* The medical insurance data service (`medical-insurance`) knows **registered proxies** (代理人の登録):
  the portal registers a resident's proxy (`POST …/residents/<code>/proxy-registrations`) and withdraws
  the registration when the proxy's authority ends (`POST …/proxy-registrations/<id>/withdrawal`). A
  request for a medical category made by a proxy names its registration in the `Proxy-Registration`
  header and is refused (403) unless the registration is this resident's, active and unexpired.
* As a notice **sender**, `municipal-child` posts the status report (現況届) to the portal
  (`python -m simulators.agency send-status-report`) and takes the answers at
  `POST /agencies/municipal-child/webhooks/notice-responses` (Standard Webhooks signature).
* `/_control/` sets per-agency latency, error rate and outages for fault tests (needs `X-Control-Token`).
"""

TAGS = [
    {
        "name": "agencies",
        "description": "Identity records, self-information and information-provision records, per agency.",
    },
    {"name": "banks", "description": "The banks' account-name check (口座名義確認)."},
    {
        "name": "control",
        "description": "Fault injection, bank accounts and what the portal sent, for tests and demos.",
    },
    {"name": "health", "description": "Process liveness."},
]

_bearer = HTTPBearer(
    auto_error=False,
    bearerFormat="JWT",
    scheme_name="ClientAssertion",
    description="ES256 client assertion signed by the portal (see the API description).",
)
_control_token = APIKeyHeader(
    name="X-Control-Token",
    auto_error=False,
    scheme_name="ControlToken",
    description="AGENCY_SIM_CONTROL_TOKEN",
)


def _errors(*statuses: int) -> dict[int | str, dict[str, Any]]:
    meaning = {
        401: "No, bad, expired or replayed client assertion (or missing control token)",
        403: "Wrong control token",
        404: "Unknown agency, agency code or category, or records this agency does not serve",
        500: "Injected internal error",
        503: "Simulated outage; see Retry-After",
    }
    return {s: {"model": ErrorResponse, "description": meaning[s]} for s in statuses}


def _problem(error: dict[str, Any]) -> str:
    """``field: what is wrong`` for one validation error (the location without its "body" or "header")."""
    where = ".".join(str(part) for part in error.get("loc", ())[1:]) or "body"
    return f"{where}: {str(error.get('msg', 'invalid')).removeprefix('Value error, ')}"


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the app; ``settings`` default to the environment (uvicorn calls this as a factory)."""
    settings = settings or Settings.from_env()
    store = Store(settings.db_path)
    store.create_schema()  # serving an uninitialised store yields 404s, not crashes
    verifier = AssertionVerifier(settings, store)
    faults = FaultInjector(settings, store)

    app = FastAPI(
        title="Agency simulator (行政機関シミュレーター)",
        version="1.0.0",
        description=DESCRIPTION,
        openapi_tags=TAGS,
    )
    app.state.settings = settings
    app.state.store = store

    @app.exception_handler(ApiError)
    async def _api_error(_: Request, exc: ApiError) -> JSONResponse:
        return JSONResponse({"error": exc.error, "message": exc.message}, exc.status, headers=exc.headers)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        error = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
        return JSONResponse(
            {"error": error, "message": str(exc.detail)}, exc.status_code, headers=exc.headers
        )

    @app.exception_handler(RequestValidationError)
    async def _invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        # Name the first few faults in the message itself: a log line then says what was wrong.
        problems = [_problem(e) for e in exc.errors()[:3]]
        message = "The request is not valid" + (f" ({'; '.join(problems)})." if problems else ".")
        body = {"error": "invalid_request", "message": message, "details": exc.errors()}
        return JSONResponse(jsonable_encoder(body), 422)

    async def known_agency(agency_id: str) -> AgencyRow:
        agency = await run_in_threadpool(store.agency, agency_id)
        if agency is None:
            raise ApiError(404, "unknown_agency", f"There is no agency '{agency_id}'.")
        return agency

    async def authenticated_resident(request: Request, agency_code: str, agency_id: str) -> ResidentRow:
        """Faults, then the assertion, then the record: the shared front half of every agency request."""
        await faults.apply(agency_id)
        await run_in_threadpool(verifier.verify, request.headers.get("authorization"), agency_id)
        resident = await run_in_threadpool(store.resident, agency_id, agency_code)
        if resident is None:
            raise ApiError(404, "unknown_code", f"Agency '{agency_id}' has no resident with this code.")
        return resident

    async def control_access(token: str | None = Security(_control_token)) -> None:
        if not token:
            raise ApiError(401, "control_token_required", "Send the control token in X-Control-Token.")
        if not hmac.compare_digest(token.encode("utf-8"), settings.control_token.encode("utf-8")):
            raise ApiError(403, "bad_control_token", "The control token is wrong.")

    @app.get("/healthz", tags=["health"], response_model=Health, summary="Process is up")
    async def healthz() -> Health:
        return Health()

    @app.get(
        "/agencies/{agency_id}/v1/residents/{agency_code}",
        tags=["agencies"],
        response_model=IdentityRecord,
        summary="Identity record (本人情報) the agency holds for a code",
        dependencies=[Security(_bearer)],
        responses=_errors(401, 404, 500, 503),
    )
    async def identity_record(request: Request, agency_id: str, agency_code: str) -> IdentityRecord:
        await known_agency(agency_id)
        r = await authenticated_resident(request, agency_code, agency_id)
        return IdentityRecord.model_validate(
            {k: getattr(r, k) for k in ("agency_code", "name", "name_kana", "birth_date", "sex", "address")}
        )

    @app.get(
        "/agencies/{agency_id}/v1/residents/{agency_code}/self-information/{category}",
        tags=["agencies"],
        response_model=SelfInformation,
        summary="Self-information (自己情報) of one category",
        description="`subject` is who the agency believes the data is about; compare it before showing. "
        "A proxy's request names its registration in `Proxy-Registration` (medical categories only).",
        dependencies=[Security(_bearer)],
        responses={
            **_errors(401, 404, 500, 503),
            403: {
                "model": ErrorResponse,
                "description": "A proxy's request under a registration this agency does not hold for this "
                "resident (`proxy_not_registered`), that was withdrawn (`proxy_registration_withdrawn`) or "
                "that passed its last day (`proxy_registration_expired`)",
            },
        },
    )
    async def self_information(
        request: Request,
        agency_id: str,
        agency_code: str,
        category: str,
        proxy_registration: str | None = Header(
            None,
            alias=PROXY_HEADER,
            description="Only when a proxy asks: the id of the proxy's registration with this agency",
        ),
    ) -> Any:
        agency = await known_agency(agency_id)
        r = await authenticated_resident(request, agency_code, agency_id)
        if category not in agency.categories or category == PROVISION_CATEGORY:
            raise ApiError(404, "category_not_served", f"Agency '{agency_id}' does not serve '{category}'.")
        if proxy_registration is not None:
            # A proxy asked: answered only under a registration this agency holds for this very resident.
            registration = await run_in_threadpool(store.proxy_registration, agency_id, proxy_registration)
            refusal = proxy_refusal(registration, agency_code=agency_code, today=datetime.now(JST).date())
            if refusal is not None:
                raise refusal
            await run_in_threadpool(
                store.proxy_read_count,
                agency_id,
                proxy_registration,
                datetime.now(JST).replace(microsecond=0).isoformat(),
            )
        data = await run_in_threadpool(store.payload_text, agency_id, agency_code, category)
        if data is None:
            raise ApiError(
                404, "category_not_served", f"'{category}' is not available from this simulator yet."
            )
        envelope = {
            "agency_id": agency_id,
            "agency_code": agency_code,
            "category": category,
            "as_of": datetime.now(JST).replace(microsecond=0).isoformat(),
            # Who the agency believes the data is about: at the mis-linked agency, someone else.
            "subject": {"name": r.name, "name_kana": r.name_kana, "birth_date": r.birth_date},
        }
        # The payload was validated against its model at init: send the stored text as it is rather than
        # parse, validate and serialise up to a few hundred kilobytes again on every request.
        head = json.dumps(envelope, ensure_ascii=False, separators=(",", ":"))
        return Response(f'{head[:-1]},"data":{data}}}', media_type="application/json")

    @app.get(
        "/agencies/{agency_id}/v1/residents/{agency_code}/provision-records",
        tags=["agencies"],
        response_model=ProvisionRecords,
        summary="Information-provision records (情報提供等記録) about a code",
        description="Exchanges between agencies about the resident, oldest first. Only agencies that list "
        "`provision_records` among their categories (the information provision network) serve them.",
        dependencies=[Security(_bearer)],
        responses=_errors(401, 404, 500, 503),
    )
    async def provision_records(
        request: Request,
        agency_id: str,
        agency_code: str,
        since: date | None = Query(None, description="Only records from this day (JST) on"),  # noqa: B008
    ) -> Any:
        agency = await known_agency(agency_id)
        await authenticated_resident(request, agency_code, agency_id)
        if PROVISION_CATEGORY not in agency.categories:
            raise ApiError(
                404,
                "category_not_served",
                f"Agency '{agency_id}' does not serve information-provision records.",
            )
        records = await run_in_threadpool(store.provision_records, agency_id, agency_code, since)
        return {
            "agency_code": agency_code,
            "as_of": datetime.now(JST).replace(microsecond=0),
            "records": records,
        }

    async def authenticated_record(
        request: Request, agency_id: str, agency_code: str
    ) -> tuple[AgencyRow, ResidentRow]:
        """The same front half as the other agency requests, run before the body is looked at."""
        agency = await known_agency(agency_id)
        return agency, await authenticated_resident(request, agency_code, agency_id)

    @app.post(
        "/agencies/{agency_id}/v1/residents/{agency_code}/mislink-reports",
        tags=["agencies"],
        status_code=202,
        response_model=MislinkReportAccepted,
        summary="Report that a record under this code is someone else's (誤登録の連絡)",
        description="The portal found that a payload's `subject` does not match its resident. It says which "
        "attributes differed (flags only: never its own copy of the resident's attributes). Send an "
        "`Idempotency-Key`: the same key with the same report answers the same `report_id` again "
        "(`Idempotent-Replayed: true`); with a different report it is refused (422).",
        dependencies=[Security(_bearer)],
        responses={
            **_errors(401, 404, 500, 503),
            400: {"model": ErrorResponse, "description": "Missing or malformed Idempotency-Key"},
            422: {"model": ErrorResponse, "description": "Invalid report, category not served, key reused"},
        },
    )
    async def mislink_report(
        report: MislinkReportRequest,
        record: tuple[AgencyRow, ResidentRow] = Depends(authenticated_record),
        idempotency_key: str | None = Header(
            None,
            alias="Idempotency-Key",
            description="1 to 255 visible ASCII characters, unique per report (a UUID will do)",
        ),
    ) -> Response:
        agency, resident = record
        if not idempotency_key:
            raise ApiError(400, "idempotency_key_required", "Send an Idempotency-Key header.")
        if not _IDEMPOTENCY_KEY.fullmatch(idempotency_key):
            raise ApiError(
                400, "invalid_idempotency_key", "Idempotency-Key must be 1 to 255 visible ASCII characters."
            )
        if report.category not in agency.categories or report.category == PROVISION_CATEGORY:
            raise ApiError(
                422, "category_not_served", f"Agency '{agency.id}' does not serve '{report.category}'."
            )
        observed = report.observed.model_dump(exclude_none=True)
        reported_at = report.reported_at.isoformat()
        fingerprint = hashlib.sha256(
            json.dumps(
                [resident.agency_code, report.category, report.reason, observed, reported_at], sort_keys=True
            ).encode("utf-8")
        ).hexdigest()
        candidate = {
            "report_id": f"MLR-{secrets.token_hex(8).upper()}",
            "agency_code": resident.agency_code,
            "category": report.category,
            "reason": report.reason,
            "observed": observed,
            "reported_at": reported_at,
            "received_at": datetime.now(JST).replace(microsecond=0).isoformat(),
            "idempotency_key": idempotency_key,
            "fingerprint": fingerprint,
        }
        try:
            stored, replayed = await run_in_threadpool(store.add_mislink_report, agency.id, candidate)
        except IdempotencyConflict as exc:
            raise ApiError(
                422, "idempotency_key_reused", "This Idempotency-Key was used for a different report."
            ) from exc
        body = MislinkReportAccepted(report_id=stored["report_id"], status="received").model_dump()
        headers = {"Idempotent-Replayed": "true"} if replayed else {}
        return JSONResponse(body, 202, headers=headers)

    @app.post(
        "/agencies/{agency_id}/v1/residents/{agency_code}/proxy-registrations",
        tags=["agencies"],
        status_code=201,
        response_model=ProxyRegistration,
        summary="Register a proxy of this resident (代理人の登録)",
        description="Only agencies that serve medical categories keep proxy registrations. The proxy is "
        "named by this agency's own code for them and the name on their own card, never by a universal "
        "key. `registration_id` (chosen by the portal) is the registration's idempotency key: the same id "
        "with the same terms answers 200 with the stored registration (`Idempotent-Replayed: true`); with "
        "other terms or another resident 422 `registration_id_reused`; an id already withdrawn 409 "
        "`registration_withdrawn` (a withdrawn registration never becomes active again).",
        dependencies=[Security(_bearer)],
        responses={
            **_errors(401, 404, 500, 503),
            200: {"model": ProxyRegistration, "description": "The same registration, sent again"},
            409: {"model": ErrorResponse, "description": "This registration id was withdrawn"},
            422: {
                "model": ErrorResponse,
                "description": "Invalid body, last day in the past, the proxy is the resident, id reused",
            },
        },
    )
    async def proxy_register(
        body: ProxyRegistrationRequest,
        record: tuple[AgencyRow, ResidentRow] = Depends(authenticated_record),
    ) -> Response:
        agency, resident = record
        if not keeps_proxy_registrations(agency):
            raise not_served(agency)
        now = datetime.now(JST).replace(microsecond=0)
        if body.valid_until < now.date():
            raise ApiError(422, "valid_until_in_past", "valid_until must be today or later (JST).")
        if body.proxy.agency_code == resident.agency_code:
            raise ApiError(422, "proxy_is_principal", "A resident cannot be registered as their own proxy.")
        candidate = ProxyRegistrationRow(
            agency_id=agency.id,
            registration_id=body.registration_id,
            agency_code=resident.agency_code,
            proxy_code=body.proxy.agency_code,
            proxy_name=body.proxy.name,
            relationship=body.relationship,
            valid_until=body.valid_until.isoformat(),
            registered_at=now.isoformat(),
            withdrawn_at=None,
            withdrawal_reason="",
            fingerprint=registration_fingerprint(
                proxy_code=body.proxy.agency_code,
                proxy_name=body.proxy.name,
                relationship=body.relationship,
                valid_until=body.valid_until.isoformat(),
            ),
        )
        try:
            stored, replayed = await run_in_threadpool(store.add_proxy_registration, candidate)
        except RegistrationWithdrawn as exc:
            raise ApiError(
                409, "registration_withdrawn", "This registration was withdrawn; register with a new id."
            ) from exc
        except IdempotencyConflict as exc:
            raise ApiError(
                422,
                "registration_id_reused",
                "This registration id is held with other terms or for another resident.",
            ) from exc
        answer = ProxyRegistration(
            registration_id=stored.registration_id,
            agency_code=stored.agency_code,
            status="active",
            relationship=stored.relationship,
            valid_until=date.fromisoformat(stored.valid_until),
            registered_at=datetime.fromisoformat(str(stored.registered_at)),
        )
        headers = {"Idempotent-Replayed": "true"} if replayed else {}
        return JSONResponse(jsonable_encoder(answer), 200 if replayed else 201, headers=headers)

    @app.post(
        "/agencies/{agency_id}/v1/residents/{agency_code}/proxy-registrations/{registration_id}/withdrawal",
        tags=["agencies"],
        response_model=ProxyWithdrawal,
        summary="Withdraw a proxy's registration (代理人の登録の取消)",
        description="From now on the proxy's requests under this id are refused (403 "
        "`proxy_registration_withdrawn`). Safe to send again: a withdrawn registration answers the same "
        "`withdrawn_at` (`Idempotent-Replayed: true`). An id the agency has not seen is kept as withdrawn, "
        "so that a registration arriving after its withdrawal is refused. An id held for another resident "
        "is 404 `unknown_registration`.",
        dependencies=[Security(_bearer)],
        responses={
            **_errors(401, 404, 500, 503),
            422: {"model": ErrorResponse, "description": "Invalid body or registration id"},
        },
    )
    async def proxy_withdraw(
        registration_id: str,
        body: ProxyWithdrawalRequest,
        record: tuple[AgencyRow, ResidentRow] = Depends(authenticated_record),
    ) -> Response:
        agency, resident = record
        if not keeps_proxy_registrations(agency):
            raise not_served(agency)
        if not _REGISTRATION_ID.fullmatch(registration_id):
            raise ApiError(422, "invalid_request", "The registration id is not valid.")
        now = datetime.now(JST).replace(microsecond=0).isoformat()
        withdrawn = await run_in_threadpool(
            store.withdraw_proxy_registration,
            agency.id,
            resident.agency_code,
            registration_id,
            now,
            body.reason,
        )
        if withdrawn is None:
            raise ApiError(404, "unknown_registration", "This resident has no registration with this id.")
        stored, replayed = withdrawn
        answer = ProxyWithdrawal(
            registration_id=stored.registration_id,
            status="withdrawn",
            withdrawn_at=datetime.fromisoformat(str(stored.withdrawn_at)),
        )
        headers = {"Idempotent-Replayed": "true"} if replayed else {}
        return JSONResponse(jsonable_encoder(answer), 200, headers=headers)

    @app.get(
        "/_control/agencies/{agency_id}/proxy-registrations",
        tags=["control"],
        response_model=ProxyRegistrations,
        summary="The proxy registrations an agency holds (and withdrew), with the reads under each",
        dependencies=[Depends(control_access)],
        responses=_errors(401, 403, 404),
    )
    async def list_proxy_registrations(agency_id: str) -> ProxyRegistrations:
        await known_agency(agency_id)
        rows = await run_in_threadpool(store.proxy_registrations, agency_id)
        return ProxyRegistrations.model_validate(
            {"agency_id": agency_id, "registrations": [vars(row) for row in rows]}
        )

    @app.delete(
        "/_control/agencies/{agency_id}/proxy-registrations",
        tags=["control"],
        response_model=ProxyRegistrations,
        summary="Forget an agency's proxy registrations (between tests)",
        dependencies=[Depends(control_access)],
        responses=_errors(401, 403, 404),
    )
    async def clear_proxy_registrations(agency_id: str) -> ProxyRegistrations:
        await known_agency(agency_id)
        await run_in_threadpool(store.clear_proxy_registrations, agency_id)
        return ProxyRegistrations(agency_id=agency_id, registrations=[])

    async def bank_check_caller(request: Request) -> None:
        """Faults, then the assertion (``aud`` = …/agencies/bank-check), before the body is looked at."""
        await known_agency(BANK_CHECK_AGENCY_ID)
        await faults.apply(BANK_CHECK_AGENCY_ID)
        await run_in_threadpool(verifier.verify, request.headers.get("authorization"), BANK_CHECK_AGENCY_ID)

    @app.post(
        f"/agencies/{BANK_CHECK_AGENCY_ID}/v1/account-name-checks",
        tags=["banks"],
        response_model=BankCheckAnswer,
        summary="Is this account open and held in this name? (口座名義確認)",
        description="The bank looks the account up by bank, branch, type and number and compares the "
        "holder's name its own way: both sides in half-width katakana, small kana made large, long-vowel "
        "marks and spaces dropped, upper case. The answer says only `match`, `name_mismatch`, "
        "`no_account` or `account_closed`, never the name the bank holds. Send an `Idempotency-Key`: the "
        "same key with the same body answers the same check again (`Idempotent-Replayed: true`); with "
        "another body it is refused (422).",
        dependencies=[Security(_bearer)],
        responses={
            **_errors(401, 500, 503),
            400: {"model": ErrorResponse, "description": "Missing or malformed Idempotency-Key"},
            422: {"model": ErrorResponse, "description": "Invalid body, or the key was used for another one"},
        },
    )
    async def account_name_check(
        check: BankCheckRequest,
        _: None = Depends(bank_check_caller),
        idempotency_key: str | None = Header(
            None,
            alias="Idempotency-Key",
            description="1 to 255 visible ASCII characters, unique per check (a UUID will do)",
        ),
    ) -> Response:
        if not idempotency_key:
            raise ApiError(400, "idempotency_key_required", "Send an Idempotency-Key header.")
        if not _IDEMPOTENCY_KEY.fullmatch(idempotency_key):
            raise ApiError(
                400, "invalid_idempotency_key", "Idempotency-Key must be 1 to 255 visible ASCII characters."
            )
        asked = check.model_dump()
        account = await run_in_threadpool(
            store.bank_account, check.bank_code, check.branch_code, check.account_type, check.account_number
        )
        candidate = {
            "check_id": f"ANC-{secrets.token_hex(8).upper()}",
            "idempotency_key": idempotency_key,
            "fingerprint": hashlib.sha256(json.dumps(asked, sort_keys=True).encode("utf-8")).hexdigest(),
            **{k: v for k, v in asked.items() if k != "holder_kana"},  # the log keeps no names
            "result": check_result(account, check.holder_kana),
            "checked_at": datetime.now(JST).replace(microsecond=0).isoformat(),
        }
        try:
            stored, replayed = await run_in_threadpool(store.add_bank_check, candidate)
        except IdempotencyConflict as exc:
            raise ApiError(
                422, "idempotency_key_reused", "This Idempotency-Key was used for a different check."
            ) from exc
        body = {k: stored[k] for k in ("check_id", "result", "checked_at")}
        headers = {"Idempotent-Replayed": "true"} if replayed else {}
        return JSONResponse(body, 200, headers=headers)

    @app.post(
        "/_control/bank-accounts",
        tags=["control"],
        status_code=201,
        response_model=BankAccountOpened,
        summary="Open (or replace) a bank account at run time",
        dependencies=[Depends(control_access)],
        responses=_errors(401, 403),
    )
    async def open_bank_account(account: BankAccount) -> BankAccountOpened:
        row = BankAccountRow(**account.model_dump())
        replaced = await run_in_threadpool(store.put_bank_account, row)
        return BankAccountOpened(**account.model_dump(), replaced=replaced)

    @app.delete(
        "/_control/bank-accounts",
        tags=["control"],
        response_model=BankAccountsReset,
        summary="Reset the banks to the accounts of demo/people.json",
        dependencies=[Depends(control_access)],
        responses=_errors(401, 403),
    )
    async def reset_bank_accounts() -> BankAccountsReset:
        def reset() -> int:
            accounts = seed_accounts(load_people(settings))
            store.replace_bank_accounts(accounts)
            return len(accounts)

        return BankAccountsReset(accounts=await run_in_threadpool(reset))

    @app.get(
        "/_control/bank-checks",
        tags=["control"],
        response_model=BankChecks,
        summary="The account-name checks answered, oldest first (no names)",
        dependencies=[Depends(control_access)],
        responses=_errors(401, 403),
    )
    async def list_bank_checks() -> BankChecks:
        return BankChecks.model_validate({"checks": await run_in_threadpool(store.bank_checks)})

    @app.delete(
        "/_control/bank-checks",
        tags=["control"],
        response_model=BankChecks,
        summary="Forget the account-name checks and their idempotency keys (between tests)",
        dependencies=[Depends(control_access)],
        responses=_errors(401, 403),
    )
    async def clear_bank_checks() -> BankChecks:
        await run_in_threadpool(store.clear_bank_checks)
        return BankChecks(checks=[])

    @app.post(
        "/agencies/{agency_id}/webhooks/notice-responses",
        tags=["agencies"],
        summary="The portal's webhook: a resident answered a notice this agency sent",
        description="Standard Webhooks: `webhook-id`, `webhook-timestamp` (within 5 minutes) and "
        "`webhook-signature` `v1,<base64 HMAC-SHA256(secret, id.timestamp.body)>`. A repeated "
        "`webhook-id` answers 200 again and is stored once.",
        responses={
            400: {"model": ErrorResponse},
            401: {"model": ErrorResponse},
            404: {"model": ErrorResponse},
        },
    )
    async def notice_response_webhook(request: Request, agency_id: str) -> JSONResponse:
        await known_agency(agency_id)
        if agency_id not in SENDER_CLIENT_IDS:
            raise ApiError(404, "not_a_sender", f"Agency '{agency_id}' sends no notices.")
        body = await request.body()
        creds = await run_in_threadpool(sender_credentials, settings, agency_id)
        try:
            webhook_verify(creds.webhook_secret, dict(request.headers), body)
        except WebhookRefused as exc:
            raise ApiError(exc.status, exc.error, exc.message) from exc
        try:
            event = json.loads(body)
        except ValueError as exc:
            raise ApiError(400, "invalid_event", "The event is not JSON.") from exc
        if not isinstance(event, dict) or event.get("type") != "notice.response":
            raise ApiError(400, "invalid_event", "Expected a notice.response event.")
        received_at = datetime.now(JST).isoformat()
        stored = await run_in_threadpool(
            store.add_notice_response,
            agency_id,
            request.headers["webhook-id"],
            received_at,
            json.dumps(event, ensure_ascii=False),
        )
        return JSONResponse({"received": True, "duplicate": not stored})

    @app.get(
        "/_control/agencies/{agency_id}/notice-responses",
        tags=["control"],
        summary="The notice answers an agency has received at its webhook, oldest first",
        dependencies=[Depends(control_access)],
        responses=_errors(401, 403, 404),
    )
    async def list_notice_responses(agency_id: str) -> dict[str, Any]:
        await known_agency(agency_id)
        responses = await run_in_threadpool(store.notice_responses, agency_id)
        return {"agency_id": agency_id, "responses": responses}

    @app.delete(
        "/_control/agencies/{agency_id}/notice-responses",
        tags=["control"],
        summary="Forget an agency's received notice answers (between tests)",
        dependencies=[Depends(control_access)],
        responses=_errors(401, 403, 404),
    )
    async def clear_notice_responses(agency_id: str) -> dict[str, Any]:
        await known_agency(agency_id)
        await run_in_threadpool(store.clear_notice_responses, agency_id)
        return {"agency_id": agency_id, "responses": []}

    @app.get(
        "/_control/agencies/{agency_id}/mislink-reports",
        tags=["control"],
        response_model=MislinkReports,
        summary="The mis-link reports an agency has received",
        dependencies=[Depends(control_access)],
        responses=_errors(401, 403, 404),
    )
    async def list_mislink_reports(agency_id: str) -> MislinkReports:
        await known_agency(agency_id)
        reports = await run_in_threadpool(store.mislink_reports, agency_id)
        return MislinkReports.model_validate({"agency_id": agency_id, "reports": reports})

    @app.delete(
        "/_control/agencies/{agency_id}/mislink-reports",
        tags=["control"],
        response_model=MislinkReports,
        summary="Forget an agency's mis-link reports (between tests)",
        dependencies=[Depends(control_access)],
        responses=_errors(401, 403, 404),
    )
    async def clear_mislink_reports(agency_id: str) -> MislinkReports:
        await known_agency(agency_id)
        await run_in_threadpool(store.clear_mislink_reports, agency_id)
        return MislinkReports(agency_id=agency_id, reports=[])

    def _status(agency_id: str) -> FaultStatus:
        row, overridden = faults.current(agency_id)
        return FaultStatus(agency_id=agency_id, source="override" if overridden else "default", **vars(row))

    @app.get(
        "/_control/agencies/{agency_id}",
        tags=["control"],
        response_model=FaultStatus,
        summary="Current fault settings of an agency",
        dependencies=[Depends(control_access)],
        responses=_errors(401, 403, 404),
    )
    async def get_faults(agency_id: str) -> FaultStatus:
        await known_agency(agency_id)
        return await run_in_threadpool(_status, agency_id)

    @app.put(
        "/_control/agencies/{agency_id}",
        tags=["control"],
        response_model=FaultStatus,
        summary="Set an agency's latency, error rate and outage",
        dependencies=[Depends(control_access)],
        responses=_errors(401, 403, 404),
    )
    async def put_faults(agency_id: str, update: FaultSettingsUpdate) -> FaultStatus:
        await known_agency(agency_id)

        def write() -> FaultStatus:
            current, _ = faults.current(agency_id)
            merged = FaultRow(**{**vars(current), **update.model_dump(exclude_none=True)})
            store.set_faults(agency_id, merged)
            return _status(agency_id)

        return await run_in_threadpool(write)

    @app.delete(
        "/_control/agencies/{agency_id}",
        tags=["control"],
        response_model=FaultStatus,
        summary="Drop an agency's override: back to the environment's defaults",
        dependencies=[Depends(control_access)],
        responses=_errors(401, 403, 404),
    )
    async def reset_faults(agency_id: str) -> FaultStatus:
        await known_agency(agency_id)
        await run_in_threadpool(store.clear_faults, agency_id)
        return await run_in_threadpool(_status, agency_id)

    return app
