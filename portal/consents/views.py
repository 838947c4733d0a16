"""The authorization server's endpoints and the resident's consent pages.

Thin: the OAuth endpoints hand the request to authlib (`server.py`) after the checks authlib lacks (DPoP,
pushed requests); the pages call `services` and render.
"""

import time
from urllib.parse import parse_qs, urlencode, urlparse
from uuid import UUID

from authlib.oauth2 import OAuth2Error, OAuth2Request
from authlib.oauth2.rfc6749.requests import BasicOAuth2Payload
from django.conf import settings
from django.contrib import messages
from django.contrib.auth import logout
from django.contrib.auth.decorators import login_required
from django.db import transaction
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import get_language
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from portal.consents import keys, selectors, services
from portal.consents.dpop import ALGORITHMS, DPoPError, dpop_verify
from portal.consents.models import PushedAuthorization
from portal.consents.scopes import SCOPES_SUPPORTED, scope_label
from portal.consents.server import PRIVATE_KEY_JWT, server
from portal.core.errors import PortalError
from portal.core.ratelimit import client_address, rate_limit
from portal.identity.middleware import SESSION_LOGIN_AT
from portal.identity.views import SESSION_LOGIN_NEXT, signed_act

SESSION_PENDING = "consent_pending"


def _language() -> str:
    return "en" if (get_language() or "ja").startswith("en") else "ja"


def _oauth_error(status: int, error: str, description: str) -> JsonResponse:
    response = JsonResponse({"error": error, "error_description": description}, status=status)
    response["Cache-Control"] = "no-store"
    return response


def _oauth_rate_limit(request: HttpRequest, endpoint: str) -> JsonResponse | None:
    try:
        rate_limit(
            scope=f"oauth-{endpoint}",
            key=client_address(request),
            limit=settings.CONSENT_API_RATE_PER_MINUTE,
            window_seconds=60,
        )
    except PortalError:
        response = _oauth_error(429, "slow_down", "Too many requests; retry later.")
        response["Retry-After"] = "60"
        return response
    return None


# --- discovery ---------------------------------------------------------------------------------------------


@require_GET
def openid_configuration(request: HttpRequest) -> JsonResponse:
    issuer = settings.OIDC_ISSUER
    return JsonResponse(
        {
            "issuer": issuer,
            "authorization_endpoint": f"{issuer}{reverse('consents:authorize')}",
            "pushed_authorization_request_endpoint": f"{issuer}{reverse('consents:par')}",
            "require_pushed_authorization_requests": True,
            "token_endpoint": f"{issuer}{reverse('consents:token')}",
            "revocation_endpoint": f"{issuer}{reverse('consents:revoke')}",
            "introspection_endpoint": f"{issuer}{reverse('consents:introspect')}",
            "userinfo_endpoint": f"{issuer}/api/v1/userinfo",
            "jwks_uri": f"{issuer}{reverse('consents:jwks')}",
            "scopes_supported": SCOPES_SUPPORTED,
            "response_types_supported": ["code"],
            "response_modes_supported": ["query"],
            "grant_types_supported": ["authorization_code", "refresh_token"],
            "code_challenge_methods_supported": ["S256"],
            "subject_types_supported": ["pairwise"],
            "id_token_signing_alg_values_supported": ["ES256"],
            "token_endpoint_auth_methods_supported": [PRIVATE_KEY_JWT],
            "token_endpoint_auth_signing_alg_values_supported": list(ALGORITHMS),
            "revocation_endpoint_auth_methods_supported": [PRIVATE_KEY_JWT],
            "introspection_endpoint_auth_methods_supported": [PRIVATE_KEY_JWT],
            "dpop_signing_alg_values_supported": list(ALGORITHMS),
            "authorization_response_iss_parameter_supported": True,
            "claims_supported": ["sub", "name", "birthdate", "gender", "address"],
            "ui_locales_supported": ["ja", "en"],
            "service_documentation": f"{issuer}/developers/",
        }
    )


@require_GET
def jwks(request: HttpRequest) -> JsonResponse:
    return JsonResponse(keys.public_jwks())


# --- the client's endpoints --------------------------------------------------------------------------------


@csrf_exempt
@require_POST
def pushed_authorization(request: HttpRequest) -> HttpResponse:
    if limited := _oauth_rate_limit(request, "par"):
        return limited
    oauth_request = server.create_oauth2_request(request)
    try:
        client = server.authenticate_client(oauth_request, [PRIVATE_KEY_JWT], endpoint="par")
        params = request.POST.dict()
        services.pushed_request_check(client.client, params)
        # authlib's own checks of an authorization request: response type, redirect URI, scope, PKCE, nonce.
        grant = server.get_authorization_grant(_pushed_oauth_request(request, params))
        grant.validate_authorization_request()
    except OAuth2Error as error:
        status = 401 if error.error == "invalid_client" else 400
        return _oauth_error(status, error.error, error.description or error.error)
    request_uri, expires_in = services.pushed_request_store(client.client, params)
    response = JsonResponse({"request_uri": request_uri, "expires_in": expires_in}, status=201)
    response["Cache-Control"] = "no-store"
    return response


def _pushed_oauth_request(request: HttpRequest, params: dict[str, str]) -> OAuth2Request:
    oauth_request = OAuth2Request("GET", settings.OIDC_ISSUER + reverse("consents:authorize"))
    oauth_request.payload = BasicOAuth2Payload(params)
    return oauth_request


@csrf_exempt
@require_POST
def token(request: HttpRequest) -> HttpResponse:
    if limited := _oauth_rate_limit(request, "token"):
        return limited
    try:
        request.dpop_proof = dpop_verify(request)
    except DPoPError as error:
        return _oauth_error(400, error.error, error.description)
    # One commit for what an exchange writes: the code taken and the token issued (a refresh: the old
    # token revoked and the new one issued). A second request with the same code waits for this one's row
    # lock, then finds the code taken: a replay.
    with transaction.atomic():
        return server.create_token_response(request)


@csrf_exempt
@require_POST
def revoke(request: HttpRequest) -> HttpResponse:
    return server.create_endpoint_response("revocation", request)


@csrf_exempt
@require_POST
def introspect(request: HttpRequest) -> HttpResponse:
    return server.create_endpoint_response("introspection", request)


# --- the resident's side: the consent screen ---------------------------------------------------------------


def _login_is_recent(request: HttpRequest) -> bool:
    logged_in_at = request.session.get(SESSION_LOGIN_AT, 0)
    return time.time() - logged_in_at <= settings.CONSENT_RECENT_LOGIN_SECONDS


@never_cache
@require_GET
def authorize(request: HttpRequest) -> HttpResponse:
    pushed = services.pushed_request_find(
        client_id=request.GET.get("client_id", ""), request_uri=request.GET.get("request_uri", "")
    )
    if (
        not request.user.is_authenticated
        or not hasattr(request.user, "resident")
        or not _login_is_recent(request)
    ):
        # A consent needs a card login of minutes ago: a session left open on a shared device is not enough.
        if request.user.is_authenticated:
            logout(request)
        request.session[SESSION_LOGIN_NEXT] = request.get_full_path()
        return redirect("identity:login")
    pending = request.session.get(SESSION_PENDING, [])
    if pushed.pk not in pending:
        request.session[SESSION_PENDING] = [*pending[-4:], pushed.pk]
    return _consent_page(request, pushed)


def _consent_page(request: HttpRequest, pushed: PushedAuthorization, status: int = 200) -> HttpResponse:
    terms = services.consent_terms(pushed)
    language = _language()
    firm = pushed.client.firm
    return render(
        request,
        "consents/authorize.html",
        {
            "pushed": pushed,
            "firm": firm,
            "firm_name": firm.display_name(language),
            "client": pushed.client,
            "terms": terms,
            "purpose": terms.purpose.description(language),
            "items": [scope_label(s, language) for s in terms.scopes],
            "redirect_host": pushed.params["redirect_uri"].split("/")[2],
        },
        status=status,
    )


def _pending_request(request: HttpRequest, pushed_id: int) -> PushedAuthorization:
    if pushed_id not in request.session.get(SESSION_PENDING, []):
        raise Http404
    pushed = PushedAuthorization.objects.select_related("client__firm").filter(pk=pushed_id).first()
    if pushed is None:
        raise Http404
    # Found again through its own checks: still unused, unexpired, and the firm still allowed.
    return services.pushed_request_find_again(pushed)


def _back_to_client(
    request: HttpRequest, pushed: PushedAuthorization, params: dict[str, str], *, denied: bool = False
) -> HttpResponse:
    """A page that sends the browser on to the client's redirect URI. Not a redirect: the form that got
    here may only post to the portal (CSP form-action), and browsers apply that to its redirects too."""
    if state := pushed.params.get("state"):
        params = {**params, "state": state}
    # RFC 9207: the issuer beside the answer, so that the client can tell which server answered.
    params = {**params, "iss": settings.OIDC_ISSUER}
    uri = pushed.params["redirect_uri"]
    separator = "&" if "?" in uri else "?"
    return render(
        request,
        "consents/return.html",
        {
            "return_url": f"{uri}{separator}{urlencode(params)}",
            "firm_name": pushed.client.firm.display_name(_language()),
            "denied": denied,
        },
    )


@never_cache
@login_required
@require_POST
def decide(request: HttpRequest, pushed_id: int) -> HttpResponse:
    pushed = _pending_request(request, pushed_id)
    if request.POST.get("decision") == "deny" and not request.GET.get("stepup"):
        services.pushed_request_take(pushed)
        declined = {"error": "access_denied", "error_description": "The resident declined."}
        return _back_to_client(request, pushed, declined, denied=True)
    resident = request.user.resident
    terms = services.consent_terms(pushed)
    firm = pushed.client.firm
    items_ja = "、".join(scope_label(s, "ja") for s in terms.scopes)
    items_en = "; ".join(scope_label(s, "en") for s in terms.scopes)
    outcome = signed_act(
        request,
        act=services.GRANT_ACT,
        payload=terms.payload(pushed.client, pushed),
        summary_ja=(
            f"{firm.legal_name}（法人番号 {firm.corporate_number}）に、次の情報の提供に同意します。\n"
            f"項目: {items_ja}\n利用目的: {terms.purpose.description_ja}\n"
            f"提供期間: {terms.access_days}日間 / 事業者の保存期間: {terms.retention_days}日"
        ),
        summary_en=(
            f"I consent to {firm.display_name('en')} (corporate number {firm.corporate_number}) receiving:\n"
            f"Items: {items_en}\nPurpose: {terms.purpose.description_en}\n"
            f"For {terms.access_days} days; the firm keeps the data {terms.retention_days} days"
        ),
        next_url=reverse("consents:decide", args=[pushed.pk]),
    )
    if isinstance(outcome, HttpResponse):
        return outcome
    consent = services.consent_grant(resident=resident, pushed=pushed, terms=terms, proof=outcome)
    oauth_request = _pushed_oauth_request(request, pushed.params)
    oauth_request.auth_time = int(request.session.get(SESSION_LOGIN_AT, time.time()))
    grant = server.get_authorization_grant(oauth_request)
    response = server.create_authorization_response(request=oauth_request, grant_user=consent, grant=grant)
    answer = parse_qs(urlparse(response.get("Location", "")).query)
    if response.status_code != 302 or "code" not in answer:  # pragma: no cover - validated at push time
        raise PortalError(
            "consent_failed", "同意を記録できませんでした。", "The consent could not be given.", 400
        )
    return _back_to_client(request, pushed, {"code": answer["code"][0]})


# --- /consents/ ---------------------------------------------------------------------------------------------


@never_cache
@login_required
@require_GET
def consent_list(request: HttpRequest) -> HttpResponse:
    resident = request.user.resident
    language = _language()
    consents = selectors.consents_of(resident=resident)
    for consent in consents:
        consent.item_labels = [scope_label(s, language) for s in consent.scopes]
        consent.firm_name = consent.firm.display_name(language)
        consent.purpose_text = consent.purpose_en if language == "en" else consent.purpose_ja
    return render(request, "consents/list.html", {"consents": consents})


@never_cache
@login_required
@require_http_methods(["POST"])
def consent_revoke(request: HttpRequest, consent_id: UUID) -> HttpResponse:
    consent = services.consent_revoke(resident=request.user.resident, consent_public_id=consent_id)
    messages.success(
        request,
        _("%(firm)s への提供を取り消しました。事業者はもう情報を取得できません。")
        % {"firm": consent.firm.display_name(_language())},
    )
    return redirect("consents:list")
