"""/notices/: the inbox, a notice, answering it (with a signature when asked), the receipt, attachments.

Thin: selectors read, services write. Every look-up of a notice goes through the inbox of the person the
page is about (the resident, or the principal a proxy acts for), so another's notice is "not found".
Pre-filled personal data and attachments are recorded in the access history, with whoever sees them as
actor, before they are shown or sent (SPEC 2.3). A proxy reads under the scope to read notices and
answers under the scope to answer them, signing with their own card.
"""

from typing import Any
from urllib.parse import quote
from uuid import UUID

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import get_language
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_POST

from notices import selectors, services
from notices.attachments import attachment_decrypt
from notices.categories import NOTICE_CATEGORIES, NOTICE_CATEGORY_CODES, notice_category_label
from notices.conf import conf
from notices.forms import FormField, form_fields, form_parse
from notices.markup import markup_render
from notices.models import Action, Notice
from notices.prefill import Prefill, notice_prefill, prefill_release
from portal.core.categories import category_label
from portal.core.errors import PortalError
from portal.history.models import Channel
from portal.history.services import release_record
from portal.identity.models import Resident
from portal.identity.views import signed_act
from portal.myinfo.presentation import build_node
from portal.proxies import access
from portal.proxies.scopes import NOTICES_ANSWER, NOTICES_READ

FILTERS = ("unread", "action", "archived")
# Per notice and per person answered for: a broadcast can be in both a proxy's and the principal's inbox.
SESSION_ANSWER = "notice_answer:{notice}:{owner}"
QUERY_MAX = 100


def _resident(request: HttpRequest) -> Resident:
    resident = getattr(request.user, "resident", None)
    if resident is None:
        raise Http404
    return resident


def _reader(request: HttpRequest) -> access.Subject:
    """Whose inbox: the resident's own, or a principal's for a proxy granted to read notices."""
    return access.subject(request, NOTICES_READ)


def _record_proxy_read(subject: access.Subject, items: list[str]) -> None:
    """A proxy's reading is a release to the proxy: the principal sees it in the history."""
    if subject.acting is not None and items:
        release_record(
            owner=subject.owner,
            actor=subject.actor,
            category="notices",
            items=items[:20],
            purpose="notice_view",
            channel=Channel.WEB,
        )


def _not_for_proxies(request: HttpRequest) -> None:
    if access.acting_for(request) is not None:
        raise PortalError(
            "not_for_proxies",
            "お知らせの整理（アーカイブ）は、ご本人だけができます。",
            "Only the person themselves can archive their notices.",
            403,
        )


def _language() -> str:
    return "en" if get_language() == "en" else "ja"


def _notice_or_404(resident: Resident, notice_id: UUID) -> Notice:
    notice = selectors.notice_get(resident=resident, public_id=notice_id)
    if notice is None:
        raise Http404
    return notice


@never_cache
@login_required
@require_GET
def inbox(request: HttpRequest) -> HttpResponse:
    subject = _reader(request)
    resident = subject.owner
    shown = request.GET.get("filter", "")
    category = request.GET.get("category", "")
    query = request.GET.get("q", "").strip()[:QUERY_MAX]
    filters = selectors.InboxFilter(
        unread=shown == "unread",
        action_needed=shown == "action",
        archived=shown == "archived",
        category=category if category in NOTICE_CATEGORY_CODES else "",
        query=query,
    )
    before = None
    if request.GET.get("before"):
        last = selectors.notice_get(resident=resident, public_id=request.GET["before"])
        if last is not None:
            before = (last.sent_at, last.pk)
    notices = selectors.notice_list(resident=resident, filters=filters, before=before)
    language = _language()
    labels = {c.code: c.label(language) for c in NOTICE_CATEGORIES}
    for notice in notices:
        notice.category_text = labels.get(notice.category, notice.category)
    _record_proxy_read(subject, [n.title_ja for n in notices])
    params = {k: v for k, v in (("filter", shown), ("category", filters.category), ("q", query)) if v}
    return render(
        request,
        "notices/inbox.html",
        {
            "notices": notices,
            "language": language,
            "filter": shown if shown in FILTERS else "",
            "category": filters.category,
            "query": query,
            "params": params,
            "categories": [(c.code, c.label(language)) for c in NOTICE_CATEGORIES],
            "older_than": notices[-1].public_id if len(notices) >= conf("NOTICE_PAGE_SIZE") else None,
        },
    )


def _form_context(
    notice: Notice, viewer: access.Subject, *, posted: Any = None, error_fields: list[str] | None = None
) -> tuple[list[FormField], Prefill]:
    """The form's fields with the values to show: pre-filled from the owner's information (the release
    to whoever looks recorded first; a protected address never shown to a proxy) or as posted."""
    prefill = notice_prefill(notice=notice, resident=viewer.owner)
    prefill_release(resident=viewer.owner, prefill=prefill, actor=viewer.actor)
    fields = form_fields(notice.form_schema or {}, notice.form_field_order)
    language = _language()
    for f in fields:
        if f.name in prefill.values:
            f.value, f.prefilled = access.shown_to(viewer, prefill.values[f.name]), True
            if f.kind == "fixed":
                f.display = build_node(f.value, language, key=f.name)
        if posted is not None and f.kind != "fixed":
            f.value = (posted.get(f.name) == "on") if f.kind == "boolean" else posted.get(f.name, "")
        f.error = f.name in (error_fields or [])
    return fields, prefill


def _detail(
    request: HttpRequest,
    notice: Notice,
    viewer: access.Subject,
    *,
    posted: Any = None,
    error: PortalError | None = None,
    status: int = 200,
) -> HttpResponse:
    language = _language()
    acting = viewer.acting
    response = selectors.notice_response_of(resident=viewer.owner, notice=notice)
    now = timezone.now()
    closed = notice.deadline is not None and notice.deadline <= now
    awaits_answer = notice.action != Action.NONE and response is None and not closed
    may_answer = acting is None or acting.allows(NOTICES_ANSWER)
    context: dict[str, Any] = {
        "notice": notice,
        "language": language,
        "title": notice.title(language),
        "title_lang": "en" if language == "en" and notice.title_en else "ja",
        "body_html": markup_render(notice.body(language)),
        "sender": notice.sender_name(language),
        "category_label": notice_category_label(notice.category, language),
        "attachments": list(notice.attachments.all()),
        "response": response,
        "closed": closed,
        "error": error,
        "answerable": awaits_answer and may_answer,
        "answer_not_granted": awaits_answer and not may_answer,
        # Answering for someone: the form says for whom, and that the proxy signs and is named.
        "answering_for": acting.principal if acting is not None else None,
        "can_archive": acting is None,
    }
    if context["answerable"] and notice.action == Action.FORM:
        error_fields = error.extra.get("fields", []) if error is not None else []
        fields, prefill = _form_context(notice, viewer, posted=posted, error_fields=error_fields)
        context.update(fields=fields, prefill_missing=prefill.missing, prefill_any=bool(prefill.values))
        context["missing_labels"] = [category_label(c, language) for c in prefill.missing]
    return render(request, "notices/detail.html", context, status=status)


@never_cache
@login_required
@require_GET
def detail(request: HttpRequest, notice_id: UUID) -> HttpResponse:
    subject = _reader(request)
    resident = subject.owner
    notice = _notice_or_404(resident, notice_id)
    if subject.acting is None:
        services.notice_mark_read(resident=resident, notice=notice)
    _record_proxy_read(subject, [notice.title_ja])
    return _detail(request, notice, subject)


@login_required
@require_POST
def archive(request: HttpRequest, notice_id: UUID) -> HttpResponse:
    _not_for_proxies(request)
    resident = _resident(request)
    notice = _notice_or_404(resident, notice_id)
    archived = request.POST.get("archived", "1") == "1"
    services.notice_archive(resident=resident, notice=notice, archived=archived)
    return redirect("notices:inbox")


def _answers_from_post(request: HttpRequest, notice: Notice, resident: Resident) -> dict[str, Any]:
    if notice.action != Action.FORM:
        return {}
    fields = form_fields(notice.form_schema or {}, notice.form_field_order)
    # Fixed (not editable) fields are taken from the resident's information again, not from the page.
    fixed = notice_prefill(notice=notice, resident=resident).values
    return form_parse(fields, request.POST, fixed)


@never_cache
@login_required
@require_POST
def respond(request: HttpRequest, notice_id: UUID) -> HttpResponse:
    """The resident answers their notice, or a proxy with the scope to answer answers the principal's."""
    subject = access.subject(request, NOTICES_ANSWER)
    resident = subject.owner
    grant = subject.acting.grant if subject.acting is not None else None
    notice = _notice_or_404(resident, notice_id)
    session_key = SESSION_ANSWER.format(notice=notice.public_id, owner=resident.public_id)
    returning = "stepup" in request.GET
    if returning:
        answers = request.session.get(session_key)
        if answers is None:
            raise PortalError(
                "answer_expired",
                "回答の内容が見つかりません。もう一度お知らせから回答してください。",
                "Your answer was not found. Please answer again from the notice.",
                409,
            )
    else:
        if request.POST.get("confirmed") != "on":
            error = PortalError(
                "not_confirmed",
                "内容を確認したら、確認欄にチェックを入れてください。",
                "Please tick the box to say you have checked the content.",
                422,
            )
            return _detail(request, notice, subject, posted=request.POST, error=error, status=422)
        answers = _answers_from_post(request, notice, resident)
        try:
            services.notice_answer_check(notice=notice, answers=answers)
        except PortalError as error:
            if error.code != "answer_invalid":
                raise
            return _detail(request, notice, subject, posted=request.POST, error=error, status=422)

    proof = None
    if notice.requires_signature:
        # A proxy signs with their own card (the step-up takes only the session's own), for the principal.
        summary_ja, summary_en = services.respond_summary(
            notice=notice, principal=resident if grant is not None else None
        )
        if not returning:
            request.session[session_key] = answers
        outcome = signed_act(
            request,
            act=services.RESPOND_ACT,
            payload=services.respond_payload(notice=notice, answers=answers, grant=grant),
            summary_ja=summary_ja,
            summary_en=summary_en,
            next_url=reverse("notices:respond", args=[notice.public_id]),
        )
        if isinstance(outcome, HttpResponse):
            return outcome
        proof = outcome
    services.notice_respond(resident=resident, notice=notice, answers=answers, proof=proof, grant=grant)
    request.session.pop(session_key, None)
    return redirect("notices:receipt", notice_id=notice.public_id)


@never_cache
@login_required
@require_GET
def receipt(request: HttpRequest, notice_id: UUID) -> HttpResponse:
    resident = _reader(request).owner
    notice = _notice_or_404(resident, notice_id)
    response = selectors.notice_response_of(resident=resident, notice=notice)
    if response is None:
        return redirect("notices:detail", notice_id=notice.public_id)
    language = _language()
    return render(
        request,
        "notices/receipt.html",
        {
            "notice": notice,
            "response": response,
            "title": notice.title(language),
            "sender": notice.sender_name(language),
        },
    )


@never_cache
@login_required
@require_GET
def attachment(request: HttpRequest, notice_id: UUID, attachment_id: UUID) -> HttpResponse:
    subject = _reader(request)
    resident = subject.owner
    notice = _notice_or_404(resident, notice_id)
    item = notice.attachments.filter(public_id=attachment_id).first()
    if item is None:
        raise Http404
    content = attachment_decrypt(item.ciphertext, key_id=item.key_id, public_id=item.public_id)
    release_record(
        owner=resident,
        actor=subject.actor,
        category="notices",
        items=[item.filename],
        purpose="notice_view",
        channel=Channel.EXPORT,
    )
    response = HttpResponse(content, content_type="application/pdf")
    response["Content-Disposition"] = f"attachment; filename*=UTF-8''{quote(item.filename)}"
    response["Content-Length"] = str(len(content))
    return response
