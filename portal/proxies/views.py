"""/proxies/: invite a proxy, accept an invitation, confirm with a signature, act for someone, end.

Thin: parsing and rendering here, rules in services and access.
"""

import datetime as dt
from uuid import UUID

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import get_language
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from portal.core.errors import PortalError
from portal.identity import views as identity_views
from portal.identity.models import SigningKind, SigningRequest
from portal.identity.services import child_start
from portal.identity.views import signed_act
from portal.proxies import guardians, parents, selectors, services
from portal.proxies.access import SESSION_ACTING, acting_for, own_resident, usable_grant
from portal.proxies.scopes import SCOPES, scope_label

SESSION_NEW_CODE = "proxy_invitation_code"


def _language() -> str:
    return "en" if (get_language() or "ja").startswith("en") else "ja"


def _page(request: HttpRequest, *, error: PortalError | None = None, code: str = "", status: int = 200):
    resident = own_resident(request)
    language = _language()
    given = list(selectors.grants_given(principal=resident))
    held = list(selectors.grants_held(proxy=resident))
    for grant in (*given, *held):
        grant.scope_labels = [scope_label(s, language) for s in grant.scopes]
    return render(
        request,
        "proxies/list.html",
        {
            "given": given,
            "held": held,
            "scopes": [(s.code, s.label(language)) for s in SCOPES],
            "default_end": (timezone.localdate() + dt.timedelta(days=365)).isoformat(),
            "error": error,
            "new_code": code,
            "acting": acting_for(request),
        },
        status=status,
    )


@never_cache
@login_required
@require_GET
def proxy_list(request: HttpRequest) -> HttpResponse:
    return _page(request, code=request.session.pop(SESSION_NEW_CODE, ""))


@never_cache
@login_required
@require_POST
def invite(request: HttpRequest) -> HttpResponse:
    resident = own_resident(request)
    if acting_for(request) is not None:
        raise PortalError("acting", "代理中はできません。", "Not while acting for someone.", 403)
    try:
        ends_on = dt.date.fromisoformat(request.POST.get("ends_on", ""))
    except ValueError:
        return _page(
            request,
            error=PortalError(
                "end_invalid", "終了日を正しく入力してください。", "Enter a valid end date.", 422
            ),
            status=422,
        )
    try:
        _, code = services.invitation_create(
            principal=resident, scopes=request.POST.getlist("scopes"), ends_on=ends_on
        )
    except PortalError as error:
        return _page(request, error=error, status=error.status)
    # Shown once, on the page the browser is sent to: a reload then makes no second invitation.
    request.session[SESSION_NEW_CODE] = code
    return redirect("proxies:list")


@never_cache
@login_required
@require_http_methods(["GET", "POST"])
def accept(request: HttpRequest) -> HttpResponse:
    resident = own_resident(request)
    if request.method == "GET":
        return render(request, "proxies/accept.html", {"code": request.GET.get("code", "")[:64]})
    code = request.POST.get("code", "")[:64]
    try:
        services.invitation_accept(proxy=resident, code=code)
    except PortalError as error:
        return render(request, "proxies/accept.html", {"code": code, "error": error}, status=error.status)
    messages.success(request, _("招待を受けました。ご本人が署名で確認すると、代理ができるようになります。"))
    return redirect("proxies:list")


@never_cache
@login_required
@require_POST
def confirm(request: HttpRequest, grant_id: UUID) -> HttpResponse:
    resident = own_resident(request)
    grant = selectors.grant_of_principal(principal=resident, public_id=str(grant_id))
    if grant is None or grant.proxy is None:
        raise Http404
    scopes_ja = "、".join(scope_label(s, "ja") for s in grant.scopes)
    scopes_en = "; ".join(scope_label(s, "en") for s in grant.scopes)
    outcome = signed_act(
        request,
        act=services.APPOINT_ACT,
        payload=services.appoint_payload(grant),
        summary_ja=f"{grant.proxy.name}さんを代理人にします。\n範囲: {scopes_ja}\n終了日: {grant.ends_on}",
        summary_en=f"Appoint {grant.proxy.name} as my proxy.\nScopes: {scopes_en}\nUntil: {grant.ends_on}",
        next_url=reverse("proxies:confirm", args=[grant.public_id]),
    )
    if isinstance(outcome, HttpResponse):
        return outcome
    services.grant_confirm(principal=resident, grant=grant, proof=outcome)
    messages.success(request, _("代理人を登録しました。"))
    return redirect("proxies:list")


@never_cache
@login_required
@require_POST
def end(request: HttpRequest, grant_id: UUID) -> HttpResponse:
    resident = own_resident(request)
    services.grant_end(resident=resident, grant_public_id=grant_id)
    if request.session.get(SESSION_ACTING) == str(grant_id):
        request.session.pop(SESSION_ACTING, None)
    messages.success(request, _("代理を終了しました。"))
    return redirect("proxies:list")


@never_cache
@login_required
@require_POST
def keep(request: HttpRequest, grant_id: UUID) -> HttpResponse:
    services.grant_keep(principal=own_resident(request), grant_public_id=grant_id)
    messages.success(request, _("代理人を続けます。"))
    return redirect("proxies:list")


@never_cache
@login_required
@require_POST
def end_all(request: HttpRequest) -> HttpResponse:
    resident = own_resident(request)
    if acting_for(request) is not None:
        raise PortalError("acting", "代理中はできません。", "Not while acting for someone.", 403)
    services.grants_end_all(principal=resident)
    messages.success(request, _("すべての代理人を終了しました。"))
    return redirect("proxies:list")


@never_cache
@login_required
@require_POST
def act(request: HttpRequest, grant_id: UUID) -> HttpResponse:
    resident = own_resident(request)
    grant = usable_grant(proxy=resident, grant_public_id=str(grant_id))
    if grant is None:
        raise Http404
    request.session[SESSION_ACTING] = str(grant.public_id)
    return redirect("proxies:list")


@never_cache
@login_required
@require_POST
def stop(request: HttpRequest) -> HttpResponse:
    request.session.pop(SESSION_ACTING, None)
    messages.success(request, _("ご自身の画面に戻りました。"))
    return redirect("dashboard:home")


@never_cache
@login_required
@require_http_methods(["GET", "POST"])
def guardian(request: HttpRequest) -> HttpResponse:
    """An adult guardian sends the court registry certificate; staff review it before anything opens."""
    resident = own_resident(request)
    if acting_for(request) is not None:
        return redirect("proxies:list")
    error = None
    status = 200
    if request.method == "POST":
        try:
            birth_date = dt.date.fromisoformat(request.POST.get("ward_birth_date", ""))
        except ValueError:
            error = PortalError(
                "ward_birth_date", "生年月日が正しくありません。", "The birth date is not valid.", 422
            )
        if error is None:
            try:
                certificate = guardians.certificate_read(request.FILES.get("certificate"))
                guardians.guardian_apply(
                    guardian=resident,
                    ward_name=request.POST.get("ward_name", "")[:200],
                    ward_birth_date=birth_date,
                    registry_number=request.POST.get("registry_number", "")[:80],
                    certificate=certificate,
                )
            except PortalError as refused:
                error = refused
        if error is None:
            messages.success(request, _("届出を受け付けました。職員が証明書を確認します。"))
            return redirect("proxies:guardian")
        status = error.status
    return render(
        request,
        "proxies/guardian.html",
        {"applications": selectors.guardian_applications(guardian=resident), "error": error},
        status=status,
    )


@never_cache
@login_required
@require_POST
def child_add(request: HttpRequest) -> HttpResponse:
    """A parent presents their child's card to act for the child (no invitation: the household record)."""
    parent = own_resident(request)
    if acting_for(request) is not None:
        return redirect("proxies:list")
    signing_request = child_start(parent=parent, browser_key=identity_views.browser_key_of(request))
    return redirect("proxies:child-sign", request_id=signing_request.id)


@never_cache
@login_required
@require_GET
def child_sign(request: HttpRequest, request_id: UUID) -> HttpResponse:
    parent = own_resident(request)
    signing_request = SigningRequest.objects.filter(
        pk=request_id, kind=SigningKind.CHILD, resident=parent
    ).first()
    if signing_request is None:
        raise Http404
    # The child's card is presented from the proxies page (its "add a child" form): start again there.
    again_url = f"{reverse('proxies:list')}#child-add"
    context = identity_views.signing_context(request, signing_request, again_url=again_url)
    context["complete_url"] = reverse("proxies:child-complete", args=[signing_request.id])
    return render(request, "proxies/child.html", context)


@never_cache
@login_required
@require_POST
def child_complete(request: HttpRequest, request_id: UUID) -> HttpResponse:
    parent = own_resident(request)
    try:
        grant = parents.child_link(
            parent=parent, request_id=request_id, browser_key=identity_views.browser_key_of(request)
        )
    except PortalError as error:
        return _page(request, error=error, status=error.status)
    messages.success(
        request, _("%(name)sさんの代理ができるようになりました。") % {"name": grant.principal.name}
    )
    return redirect("proxies:list")
