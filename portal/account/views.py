"""/account/: the resident's public-fund account, its registration, change and deletion, and the bank and
branch search the form uses. Thin: parsing and rendering here, rules in services.

What a resident typed waits for the signature in the session, encrypted; nothing is stored as an
application until the step-up is signed.
"""

import json
import unicodedata
from typing import Any

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import get_language
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods

from portal.account import banks, selectors, services
from portal.account.models import AccountType, ApplicationState
from portal.core.crypto import DecryptionError, field_cipher
from portal.core.errors import PortalError
from portal.core.ratelimit import rate_limit
from portal.history.models import Channel
from portal.history.services import Actor, release_record
from portal.identity.models import Resident
from portal.identity.views import signed_act
from portal.proxies import access
from portal.proxies.scopes import ACCOUNT_VIEW

SESSION_DETAILS = "account_details"
SESSION_CONTEXT = "account.session.details"
FORM_FIELDS = ("bank", "branch", "account_type", "number", "holder_kana", "jp_symbol", "jp_number")
FIELD_MAX = 60
SEARCH_MAX = 40


def _resident(request: HttpRequest) -> Resident:
    resident = getattr(request.user, "resident", None)
    if resident is None:
        raise Http404
    return resident


def _language() -> str:
    return "en" if (get_language() or "ja").startswith("en") else "ja"


def _record_view(resident: Resident, items: list[str], actor: Actor | None = None) -> None:
    release_record(
        owner=resident,
        actor=actor or Actor.for_resident(resident),
        category="public_fund_account",
        items=items,
        purpose="public_fund_account",
        channel=Channel.WEB,
    )


@never_cache
@login_required
@require_GET
def overview(request: HttpRequest) -> HttpResponse:
    subject = access.subject(request, ACCOUNT_VIEW)
    resident = subject.owner
    # The application first: the bank's answer commits the account and the application's state together,
    # so an application read as decided guarantees the account read next is the decided one. (Read the
    # other way round, a page drawn during that commit showed "no account" and stopped polling.)
    application = selectors.application_latest(resident=resident)
    account = selectors.account_get(resident=resident)
    if account is not None:
        items = ["bank", "branch", "account_type", "account_number_masked", "holder_kana"]
        _record_view(resident, items, actor=subject.actor)
    context: dict[str, Any] = {
        "account": account,
        "account_description": (services.description_of(account) if account else None),
        "application": application,
        "application_description": _application_description(application),
        "events": selectors.account_event_list(resident=resident),
        "proxy": subject.acting is not None,
    }
    return render(request, "account/overview.html", context)


def _application_description(application: Any) -> dict[str, str] | None:
    if application is None:
        return None
    description = services.account_description(
        application.bank_code, application.branch_code, application.account_type, ""
    )
    description["number_masked"] = application.number_masked
    return description


@never_cache
@login_required
@require_GET
def application_status(request: HttpRequest) -> JsonResponse:
    """What the page polls while the bank checks: the state only, no account details."""
    application = selectors.application_latest(resident=access.subject(request, ACCOUNT_VIEW).owner)
    if application is None:
        return JsonResponse({"state": None})
    return JsonResponse(
        {
            "state": application.state,
            "label": str(ApplicationState(application.state).label),
            "done": application.state != ApplicationState.CHECKING,
        }
    )


def _form_values(data: Any) -> dict[str, str]:
    return {name: str(data.get(name, ""))[:FIELD_MAX].strip() for name in FORM_FIELDS}


def _only_match(found: list[banks.Bank] | list[banks.Branch], value: str) -> str:
    """The code of the one bank or branch a name as typed stands for: the only one found, or the only one
    whose name or kana it is exactly; "" when it stands for none or several."""
    exact = [b for b in found if b.name == value or b.kana == value]
    return (exact or found)[0].code if len(found) == 1 or len(exact) == 1 else ""


def _resolve_bank(value: str) -> str:
    """A code as typed, or a bank name that names exactly one bank."""
    digits = unicodedata.normalize("NFKC", value)
    if not value or any(c.isdigit() for c in digits):
        return value
    code = _only_match(banks.bank_search(value, limit=2), value)
    if code:
        return code
    raise PortalError(
        "bank_ambiguous",
        f"「{value}」に当てはまる金融機関が一つに決まりません。金融機関コード（4桁）を入力するか、候補から選んでください。",
        f"'{value}' does not name exactly one bank. Enter the 4-digit bank code or choose from the list.",
        422,
        extra={"field": "bank"},
    )


def _resolve_branch(bank_code: str, value: str) -> str:
    digits = unicodedata.normalize("NFKC", value)
    if not value or any(c.isdigit() for c in digits) or banks.bank_get(bank_code) is None:
        return value
    code = _only_match(banks.branch_search(bank_code, value, limit=2), value)
    if code:
        return code
    raise PortalError(
        "branch_ambiguous",
        f"「{value}」に当てはまる支店が一つに決まりません。支店コード（3桁）を入力するか、候補から選んでください。",
        f"'{value}' does not name exactly one branch. Enter the 3-digit branch code or choose from the list.",
        422,
        extra={"field": "branch"},
    )


def _details_from_form(resident: Resident, values: dict[str, str]) -> services.AccountDetails:
    bank_code = _resolve_bank(values["bank"])
    return services.account_details_check(
        resident=resident,
        bank_code=bank_code,
        branch_code=_resolve_branch(bank_code, values["branch"]),
        account_type=values["account_type"],
        number=values["number"],
        holder_kana=values["holder_kana"],
        japan_post_symbol=values["jp_symbol"],
        japan_post_number=values["jp_number"],
    )


def _keep_details(request: HttpRequest, details: services.AccountDetails) -> None:
    sealed = field_cipher().encrypt(json.dumps(details.payload()), context=SESSION_CONTEXT)
    request.session[SESSION_DETAILS] = sealed


def _kept_details(request: HttpRequest) -> services.AccountDetails:
    sealed = request.session.get(SESSION_DETAILS)
    try:
        payload = json.loads(field_cipher().decrypt(sealed, context=SESSION_CONTEXT)) if sealed else None
    except (DecryptionError, ValueError):
        payload = None
    if not isinstance(payload, dict):
        raise PortalError(
            "application_expired",
            "申請の内容が見つかりません。もう一度入力してください。",
            "Your application was not found. Please enter the account again.",
            409,
        )
    return services.AccountDetails(
        bank_code=payload["bank_code"],
        branch_code=payload["branch_code"],
        account_type=payload["account_type"],
        number=payload["account_number"],
        holder_kana=payload["holder_kana"],
    )


def _render_form(request: HttpRequest, resident: Resident, values: dict[str, str], error=None, status=200):
    return render(
        request,
        "account/register.html",
        {
            "values": values,
            "error": error,
            "error_field": error.extra.get("field", "") if error else "",
            "account_types": AccountType.choices,
            "has_account": selectors.account_get(resident=resident) is not None,
            "japan_post_code": banks.JAPAN_POST_BANK_CODE,
        },
        status=status,
    )


@never_cache
@login_required
@require_http_methods(["GET", "POST"])
def register(request: HttpRequest) -> HttpResponse:
    """The form; on POST every check, then the signature; back from signing, the application."""
    resident = _resident(request)
    if request.method == "POST" and "stepup" in request.GET:
        details = _kept_details(request)
        outcome = _sign(request, details)
        if isinstance(outcome, HttpResponse):
            return outcome
        services.account_apply(resident=resident, details=details, proof=outcome)
        request.session.pop(SESSION_DETAILS, None)
        return redirect("account:overview")
    if request.method == "GET":
        values = {name: "" for name in FORM_FIELDS}
        values["holder_kana"] = resident.name_kana
        values["account_type"] = AccountType.ORDINARY
        return _render_form(request, resident, values)
    values = _form_values(request.POST)
    try:
        rate_limit(scope="account-register", key=str(resident.pk), limit=20, window_seconds=3600)
        details = _details_from_form(resident, values)
    except PortalError as error:
        return _render_form(request, resident, values, error=error, status=error.status)
    _keep_details(request, details)
    return _sign(request, details)


def _sign(request: HttpRequest, details: services.AccountDetails):
    description = details.describe()
    type_label = str(AccountType(details.account_type).label)
    summary_ja = (
        "公金受取口座を次の口座で登録（変更）します。\n"
        f"金融機関: {description['bank_name']}（{details.bank_code}）\n"
        f"支店: {description['branch_name']}（{details.branch_code}）\n"
        f"預金種目: {type_label}\n口座番号: {details.number}\n口座名義: {details.holder_kana}"
    )
    summary_en = (
        "Register (or change) my public-fund account to this account.\n"
        f"Bank: {description['bank_name']} ({details.bank_code})\n"
        f"Branch: {description['branch_name']} ({details.branch_code})\n"
        f"Type: {details.account_type}\nAccount number: {details.number}\nHolder: {details.holder_kana}"
    )
    return signed_act(
        request,
        act=services.REGISTER_ACT,
        payload=details.payload(),
        summary_ja=summary_ja,
        summary_en=summary_en,
        next_url=reverse("account:register"),
    )


@never_cache
@login_required
@require_http_methods(["GET", "POST"])
def delete(request: HttpRequest) -> HttpResponse:
    resident = _resident(request)
    account = selectors.account_get(resident=resident)
    if account is None:
        return redirect("account:overview")
    description = services.description_of(account)
    if request.method == "GET":
        _record_view(resident, ["bank", "branch", "account_type", "account_number_masked"])
        return render(request, "account/delete.html", {"description": description})
    outcome = signed_act(
        request,
        act=services.DELETE_ACT,
        payload=services.delete_payload(account),
        summary_ja=(
            "公金受取口座の登録を削除します。\n"
            f"{description['bank_name']} {description['branch_name']} 口座番号 {description['number_masked']}"
        ),
        summary_en=(
            "Delete my public-fund account.\n"
            f"{description['bank_name']} {description['branch_name']} account {description['number_masked']}"
        ),
        next_url=reverse("account:delete"),
    )
    if isinstance(outcome, HttpResponse):
        return outcome
    services.account_delete(resident=resident, proof=outcome)
    return redirect("account:overview")


@login_required
@require_GET
def bank_search(request: HttpRequest) -> JsonResponse:
    """Incremental search for the form: banks by code or name (public data, no personal data)."""
    _resident(request)
    query = request.GET.get("q", "")[:SEARCH_MAX]
    found = banks.bank_search(query) if query.strip() else []
    return JsonResponse({"results": [{"code": b.code, "name": b.name, "kana": b.kana} for b in found]})


@login_required
@require_GET
def branch_search(request: HttpRequest, bank_code: str) -> JsonResponse:
    _resident(request)
    if banks.bank_get(bank_code) is None:
        raise Http404
    query = request.GET.get("q", "")[:SEARCH_MAX]
    found = banks.branch_search(bank_code, query) if query.strip() else []
    return JsonResponse({"results": [{"code": b.code, "name": b.name, "kana": b.kana} for b in found]})
