"""/myinfo/: a card per category with its state, each category's data made readable, and exports.

Thin: services start fetches, selectors read, the access-history core records every display of agency
data before it is drawn.
"""

from django.contrib.auth.decorators import login_required
from django.db import transaction
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import get_language
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_POST

from portal.core.categories import CATEGORIES
from portal.core.outages import broker_reachable
from portal.history.models import Channel
from portal.history.services import release_record
from portal.myinfo import charts, exports, selectors, services
from portal.myinfo.presentation import build_node
from portal.proxies import access
from portal.proxies.insurer import insurer_registration_for_fetch
from portal.proxies.scopes import scope_for_category

ERA_SESSION_KEY = "myinfo_era"


def _resident(request: HttpRequest):
    resident = getattr(request.user, "resident", None)
    if resident is None:
        raise Http404
    return resident


def _language() -> str:
    return "en" if get_language() == "en" else "ja"


def _visible(request: HttpRequest):
    """The owner of the page, the categories this viewer may see (a proxy: only the granted ones, else
    None) and the proxy's grant (None for the resident)."""
    acting = access.acting_for(request)
    if acting is None:
        return _resident(request), None, None
    allowed = {c for c in services.MYINFO_CATEGORIES if acting.allows(scope_for_category(c))}
    if not allowed:
        raise access.out_of_scope()
    return acting.principal, allowed, acting


def _visible_statuses(request: HttpRequest) -> list[selectors.CategoryStatus]:
    """Each category's state as this viewer may see it: a proxy, only the granted categories'."""
    resident, allowed, acting = _visible(request)
    statuses = selectors.myinfo_overview(resident=resident, now=timezone.now(), for_proxy=acting is not None)
    return statuses if allowed is None else [s for s in statuses if s.category in allowed]


def _category_or_404(category: str) -> str:
    if category not in services.MYINFO_CATEGORIES:
        raise Http404
    return category


@never_cache
@login_required
@require_GET
def overview(request: HttpRequest) -> HttpResponse:
    statuses = _visible_statuses(request)
    return render(
        request,
        "myinfo/overview.html",
        {
            "statuses": statuses,
            "any_fetching": any(s.state == "fetching" for s in statuses),
            # While the broker is down no refresh can start: the page says so instead of promising one.
            "fetching_possible": broker_reachable(),
            "language": _language(),
        },
    )


@never_cache
@login_required
@require_GET
def status_json(request: HttpRequest) -> JsonResponse:
    """Polled by the overview page for live progress: states only, no agency data."""
    statuses = _visible_statuses(request)
    return JsonResponse(
        {
            "categories": [
                {
                    "category": s.category,
                    "state": s.state,
                    "as_of": s.as_of.isoformat() if s.as_of else None,
                    "error": s.error_code,
                }
                for s in statuses
            ]
        }
    )


@login_required
@require_POST
def refresh(request: HttpRequest) -> HttpResponse:
    resident, allowed, acting = _visible(request)
    category = request.POST.get("category") or None
    categories = [_category_or_404(category)] if category else None
    if allowed is not None:
        categories = [c for c in (categories or services.MYINFO_CATEGORIES) if c in allowed]
        if not categories:
            raise access.out_of_scope()
    with transaction.atomic():
        # A proxy's refresh of medical data names the proxy's registration with the medical insurer.
        proxy_registration = ""
        if acting is not None and services.MEDICAL_CATEGORIES.intersection(categories or ()):
            proxy_registration = insurer_registration_for_fetch(grant=acting.grant)
        services.myinfo_refresh_start(
            resident=resident, categories=categories, proxy_registration=proxy_registration
        )
    return redirect("myinfo:overview")


@never_cache
@login_required
@require_GET
def detail(request: HttpRequest, category: str) -> HttpResponse:
    _category_or_404(category)
    subject = access.subject(request, scope_for_category(category))
    resident = subject.owner
    if "era" in request.GET:
        request.session[ERA_SESSION_KEY] = request.GET["era"] == "1"
    era = bool(request.session.get(ERA_SESSION_KEY, False))
    language = _language()
    statuses = selectors.myinfo_overview(
        resident=resident, now=timezone.now(), for_proxy=subject.acting is not None
    )
    status = next(s for s in statuses if s.category == category)
    data = selectors.myinfo_payload(resident=resident, category=category) if status.has_data else None
    if data is not None:
        data = access.shown_to(subject, data)
    context = {"status": status, "category": CATEGORIES[category], "language": language, "era": era}
    if data is not None:
        release_record(
            owner=resident,
            actor=subject.actor,
            category=category,
            items=sorted(data)[:20],
            purpose="myinfo_view",
            channel=Channel.WEB,
        )
        context.update(
            node=build_node(data, language, era=era), charts=charts.charts_for(category, data, language)
        )
    return render(request, "myinfo/detail.html", context)


@never_cache
@login_required
@require_GET
def export(request: HttpRequest, fmt: str) -> HttpResponse:
    resident = _resident(request)
    if fmt not in exports.FORMATS:
        raise Http404
    return exports.myinfo_export_response(resident=resident, fmt=fmt, language=_language())
