"""/developers/: what the consent API is, a firm's application, and the firm's own page behind its link.

Thin: the form is parsed here, checked and stored by services. No login: a firm proves itself on its page
with the link's secret, and a wrong secret looks exactly like a firm that does not exist (404).
"""

import functools
import json
from urllib.parse import urlencode
from uuid import UUID

from django.conf import settings
from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse, QueryDict
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import get_language
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from markdown_it import MarkdownIt

from portal.consents.scopes import DATA_SCOPES, MEDICAL_PERIODIC_MAX_DAYS, scope_label
from portal.core.errors import PortalError
from portal.core.ratelimit import client_address, rate_limit
from portal.firms import selectors, services
from portal.firms.models import AccessKind, ClientEnvironment, Firm, FirmPurpose, FirmState
from portal.firms.validation import (
    APPLICATION_FIELDS,
    MAX_PURPOSES,
    ApplicationInput,
    FirmInputInvalid,
    Problem,
    PurposeInput,
)

SESSION_NEW_LINK = "firm_new_manage_link"
PURPOSE_FIELDS = ("code", "description_ja", "description_en", "access_kind", "interval_days", "access_days")
MAX_FIELD_CHARS = 25_000  # longer than any field may be; what is beyond is not even looked at


def _language() -> str:
    return "en" if (get_language() or "ja").startswith("en") else "ja"


def _text(post: QueryDict, name: str) -> str:
    return post.get(name, "")[:MAX_FIELD_CHARS]


def _purpose_count(post: QueryDict) -> int:
    try:
        count = int(post.get("purpose_count", "1"))
    except ValueError:
        count = 1
    return max(1, min(count, MAX_PURPOSES))


def _application_from(post: QueryDict) -> ApplicationInput:
    purposes = tuple(
        PurposeInput(
            **{name: _text(post, f"purposes-{index}-{name}") for name in PURPOSE_FIELDS},
            scopes=tuple(scope[:50] for scope in post.getlist(f"purposes-{index}-scopes")[:40]),
        )
        for index in range(_purpose_count(post))
    )
    return ApplicationInput(**{name: _text(post, name) for name in APPLICATION_FIELDS}, purposes=purposes)


def _field(value: str, problems: list[Problem]) -> dict:
    return {"value": value, "problems": problems}


def _form_context(application: ApplicationInput, invalid: FirmInputInvalid | None) -> dict:
    """Each field's value and problems, so that a refused form comes back as it was typed (a JWKS that held
    a private key excepted: it is not shown again)."""
    language = _language()

    def problems(name: str) -> list[Problem]:
        return invalid.for_field(name) if invalid else []

    withheld = invalid.withheld if invalid else frozenset()
    fields = {
        name: _field("" if name in withheld else getattr(application, name), problems(name))
        for name in APPLICATION_FIELDS
    }
    purposes = []
    for index, purpose in enumerate(application.purposes):
        prefix = f"purposes-{index}-"
        purposes.append(
            {
                "index": index,
                "number": index + 1,
                "prefix": prefix,
                "fields": {
                    name: _field(getattr(purpose, name), problems(prefix + name))
                    for name in (*PURPOSE_FIELDS, "scopes")
                },
                "scope_choices": [
                    (code, scope_label(code, language), code in purpose.scopes) for code in DATA_SCOPES
                ],
            }
        )
    return {
        "fields": fields,
        "purposes": purposes,
        "purpose_count": len(application.purposes),
        "purposes_problems": problems("purposes"),
        "can_add_purpose": len(application.purposes) < MAX_PURPOSES,
        "invalid": invalid,
        "access_kinds": AccessKind.choices,
        "medical_max_days": MEDICAL_PERIODIC_MAX_DAYS,
    }


def _developers_page(
    request: HttpRequest, application: ApplicationInput, invalid: FirmInputInvalid | None = None
) -> HttpResponse:
    context = {
        **_form_context(application, invalid),
        "discovery_url": f"{settings.OIDC_ISSUER}/.well-known/openid-configuration",
        "scope_list": [(code, scope_label(code, _language())) for code in DATA_SCOPES],
    }
    return render(request, "firms/developers.html", context, status=422 if invalid else 200)


@never_cache
@require_http_methods(["GET", "POST"])
def developers(request: HttpRequest) -> HttpResponse:
    if request.method == "GET":
        return _developers_page(request, ApplicationInput(purposes=(PurposeInput(),)))
    application = _application_from(request.POST)
    if "add_purpose" in request.POST:
        # Without JavaScript: the same form again, with one more purpose block, nothing checked yet.
        if len(application.purposes) < MAX_PURPOSES:
            application = ApplicationInput(
                **{name: getattr(application, name) for name in APPLICATION_FIELDS},
                purposes=(*application.purposes, PurposeInput()),
            )
        return _developers_page(request, application)
    rate_limit(
        scope="firm-apply",
        key=client_address(request),
        limit=settings.FIRMS_APPLY_RATE_PER_HOUR,
        window_seconds=3600,
    )
    try:
        firm, token = services.firm_apply(application=application)
    except FirmInputInvalid as invalid:
        return _developers_page(request, application, invalid)
    # Shown once, on the page the browser is sent to: a reload then applies nothing twice.
    request.session[SESSION_NEW_LINK] = {"public_id": str(firm.public_id), "token": token}
    return redirect("firms:applied")


def _manage_path(public_id: UUID | str, token: str) -> str:
    return reverse("firms:manage", args=[public_id]) + "?" + urlencode({"token": token})


@never_cache
@require_GET
def applied(request: HttpRequest) -> HttpResponse:
    new_link = request.session.pop(SESSION_NEW_LINK, None)
    manage_url = ""
    if new_link:
        manage_url = settings.PORTAL_PUBLIC_URL + _manage_path(new_link["public_id"], new_link["token"])
    return render(request, "firms/applied.html", {"manage_url": manage_url})


@functools.cache
def _contract_html() -> SafeString:
    # Our own document from the repository, rendered with raw HTML turned off.
    source = (settings.BASE_DIR / "docs" / "consent-api.md").read_text(encoding="utf-8")
    return mark_safe(MarkdownIt("commonmark", {"html": False}).render(source))  # noqa: S308


@require_GET
def api_contract(request: HttpRequest) -> HttpResponse:
    return render(request, "firms/api.html", {"contract": _contract_html()})


def _purpose_summary(purpose: FirmPurpose, language: str) -> str:
    scopes = [scope_label(s, language) for s in purpose.scopes]
    if language == "en":
        how = (
            "one-time"
            if purpose.access_kind == AccessKind.ONE_TIME
            else f"every {purpose.interval_days} days"
        )
        return f"{', '.join(scopes)} — {how}, for {purpose.access_days} days"
    how = "1回限り" if purpose.access_kind == AccessKind.ONE_TIME else f"{purpose.interval_days}日ごと"
    return f"{'、'.join(scopes)} — {how}、{purpose.access_days}日間"


def _firm_or_404(request: HttpRequest, public_id: UUID, token: str) -> Firm:
    firm = selectors.firm_by_manage_token(public_id=public_id, token=token)
    if firm is None:
        rate_limit(
            scope="firm-manage-miss",
            key=client_address(request),
            limit=settings.FIRMS_MANAGE_MISSES_PER_10_MINUTES,
            window_seconds=600,
        )
        raise Http404
    return firm


def _manage_page(
    request: HttpRequest,
    firm: Firm,
    token: str,
    *,
    invalid: FirmInputInvalid | None = None,
    error: PortalError | None = None,
    typed: dict[str, str] | None = None,
) -> HttpResponse:
    language = _language()
    clients = {client.environment: client for client in firm.clients.all()}
    purposes = [
        {
            "purpose": purpose,
            "description": purpose.description(language),
            "summary": _purpose_summary(purpose, language),
        }
        for purpose in firm.purposes.all()
    ]
    typed = typed or {}
    withheld = invalid.withheld if invalid else frozenset()
    redirect_text = typed.get("redirect_uris", "\n".join(firm.redirect_uris))
    jwks_text = "" if "jwks" in withheld else typed.get("jwks", json.dumps(firm.jwks, indent=2))
    context = {
        "firm": firm,
        "token": token,
        "sandbox": clients.get(ClientEnvironment.SANDBOX),
        "production": clients.get(ClientEnvironment.PRODUCTION),
        "purposes": purposes,
        "events": firm.events.all()[:50],
        "editable": firm.state != FirmState.REJECTED,
        "redirect_uris_field": _field(redirect_text, invalid.for_field("redirect_uris") if invalid else []),
        "jwks_field": _field(jwks_text, invalid.for_field("jwks") if invalid else []),
        "invalid": invalid,
        "error": error,
        "discovery_url": f"{settings.OIDC_ISSUER}/.well-known/openid-configuration",
    }
    status = invalid.status if invalid else error.status if error else 200
    return render(request, "firms/manage.html", context, status=status)


@never_cache
@require_GET
def manage(request: HttpRequest, public_id: UUID) -> HttpResponse:
    token = request.GET.get("token", "")
    return _manage_page(request, _firm_or_404(request, public_id, token), token)


def _update(request: HttpRequest, public_id: UUID, *, field_name: str, update, done: str) -> HttpResponse:
    token = request.POST.get("token", "")
    firm = _firm_or_404(request, public_id, token)
    text = _text(request.POST, field_name)
    try:
        update(firm_id=firm.pk, **{field_name: text})
    except FirmInputInvalid as invalid:
        return _manage_page(request, firm, token, invalid=invalid, typed={field_name: text})
    except PortalError as error:
        return _manage_page(request, firm, token, error=error)
    messages.success(request, done)
    return redirect(_manage_path(firm.public_id, token))


@never_cache
@require_POST
def redirect_uris_update(request: HttpRequest, public_id: UUID) -> HttpResponse:
    return _update(
        request,
        public_id,
        field_name="redirect_uris",
        update=services.firm_redirect_uris_update,
        done=_("リダイレクトURIを更新しました。"),
    )


@never_cache
@require_POST
def jwks_update(request: HttpRequest, public_id: UUID) -> HttpResponse:
    return _update(
        request,
        public_id,
        field_name="jwks",
        update=services.firm_jwks_update,
        done=_("公開鍵（JWKS）を更新しました。"),
    )
