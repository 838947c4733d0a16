"""The resident's access history (/history/), their alert settings, and the auditors' statistics.

Thin: parsing and rendering here, rules in services, filters and selectors.
"""

from django.contrib.auth.decorators import login_required, permission_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import get_language
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods

from portal.core.categories import CATEGORIES
from portal.core.errors import PortalError
from portal.history import alerts, selectors, statistics
from portal.history.exports import FORMATS, history_export_response
from portal.history.filters import HistoryFilter, history_filter_parse
from portal.history.models import ActorType, Channel
from portal.history.presentation import record_line
from portal.history.services import release_record
from portal.provision import selectors as provision_selectors
from portal.provision import services as provision_services
from portal.proxies import access
from portal.proxies.scopes import HISTORY

PAGE_SIZE = 50


def _resident_or_none(request: HttpRequest):
    return getattr(request.user, "resident", None)


def _before_seq(request: HttpRequest) -> int | None:
    raw = request.GET.get("before", "").strip()
    if not raw:
        return None
    # ASCII digits only: str.isdigit() also takes "²" and "١", which int() refuses.
    if not (raw.isascii() and raw.isdigit()) or len(raw) > 18:
        raise PortalError(
            "bad_page", "ページの指定が正しくありません。", "The page requested is not valid.", 400
        )
    return int(raw)


@never_cache
@login_required
@require_GET
def history_page(request: HttpRequest) -> HttpResponse:
    if _resident_or_none(request) is None:
        return redirect("admin:index")
    subject = access.subject(request, HISTORY)
    resident = subject.owner
    language = get_language() or "ja"
    context = {
        "export_formats": [(fmt, fmt.upper()) for fmt in FORMATS],
        "actor_types": ActorType.choices,
        "categories": [(c.code, c.label(language)) for c in CATEGORIES.values()],
    }
    try:
        history_filter = history_filter_parse(request.GET)
        before = _before_seq(request)
    except PortalError as error:
        context.update(error=error, history_filter=HistoryFilter(), raw=request.GET, lines=[])
        return render(request, "history/list.html", context, status=error.status)

    # The history is personal data too: its display is recorded before anything is shown.
    release_record(
        owner=resident,
        actor=subject.actor,
        category="access_history",
        items=["records", "provision_records"],
        purpose="history_view",
        channel=Channel.WEB,
    )
    now = timezone.now()
    provision_services.provision_refresh_if_stale(resident=resident, now=now)
    records = selectors.resident_release_list(owner=resident, history_filter=history_filter)
    if before is not None:
        records = records.filter(seq__lt=before)
    page = list(records[: PAGE_SIZE + 1])
    lines = [record_line(record, language) for record in page[:PAGE_SIZE]]
    context.update(
        history_filter=history_filter,
        raw=request.GET,
        lines=lines,
        older_than=lines[-1].seq if len(page) > PAGE_SIZE else None,
        query=history_filter.as_query(),
        # A proxy reads the history; the alerts meant for the principal stay unread for them.
        alerts=[] if subject.acting else alerts.unread_alerts_take(resident=resident, now=now),
        **_provision_context(resident, history_filter),
    )
    return render(request, "history/list.html", context)


@never_cache
@login_required
@require_GET
def history_export(request: HttpRequest, fmt: str) -> HttpResponse:
    resident = _resident_or_none(request)
    if resident is None or fmt not in FORMATS:
        return redirect("history:list")
    try:
        history_filter = history_filter_parse(request.GET)
    except PortalError as error:
        return render(request, "error.html", {"error": error}, status=error.status)
    return history_export_response(
        resident=resident, history_filter=history_filter, fmt=fmt, language=get_language() or "ja"
    )


PROVISION_PAGE_SIZE = 50


def _provision_context(resident, history_filter: HistoryFilter) -> dict:
    """The agencies' own records, shown beside the portal's; only agencies appear in them."""
    shown = history_filter.actor_type in (None, ActorType.AGENCY) and history_filter.category in (
        None,
        "provision_records",
    )
    records = (
        list(
            provision_selectors.provision_list(
                resident=resident, date_from=history_filter.date_from, date_to=history_filter.date_to
            )[:PROVISION_PAGE_SIZE]
        )
        if shown
        else []
    )
    return {
        "provision_shown": shown,
        "provision_records": records,
        "provision_fetch": provision_selectors.provision_fetch_get(resident=resident),
    }


@never_cache
@login_required
@require_http_methods(["GET", "POST"])
def alert_settings(request: HttpRequest) -> HttpResponse:
    resident = _resident_or_none(request)
    if resident is None:
        return redirect("admin:index")
    if request.method == "POST":
        alerts.alert_preference_set(
            resident=resident,
            on_firm_reads=request.POST.get("on_firm_reads") == "on",
            on_proxy_reads=request.POST.get("on_proxy_reads") == "on",
        )
        return redirect("history:alert-settings")
    preference = alerts.alert_preference_get(resident=resident)
    return render(request, "history/alert_settings.html", {"preference": preference})


@never_cache
@permission_required("history.view_release_statistics", raise_exception=True)
@require_GET
def audit_page(request: HttpRequest) -> HttpResponse:
    """For an oversight body: counts only, never a resident, a name or a record."""
    language = get_language() or "ja"
    return render(request, "history/audit.html", statistics.release_statistics(language=language))
