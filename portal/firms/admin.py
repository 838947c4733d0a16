"""Staff review of firms' applications (SPEC 1): approve, reject with a reason, allow production, suspend
and resume, and record a change of controller. Every decision goes through portal.firms.services; nothing
about a firm is edited by hand here. A firm's data is about the firm, not a resident: opening it is not
a release of personal data.
"""

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html

from portal.consents.services import consent_firm_tells_failed, consent_firm_tells_retry
from portal.core.errors import PortalError
from portal.firms import services
from portal.firms.models import ControllerChange, Firm, FirmClient, FirmEvent, FirmPurpose
from portal.firms.services import MAX_REASON_CHARS
from portal.firms.validation import APPLICATION_FIELDS, FirmInputInvalid


class ReadOnlyInline(admin.TabularInline):
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False


class FirmPurposeInline(ReadOnlyInline):
    model = FirmPurpose
    fields = (
        "code",
        "description_ja",
        "description_en",
        "scopes",
        "access_kind",
        "interval_days",
        "access_days",
    )
    readonly_fields = fields


class FirmClientInline(ReadOnlyInline):
    model = FirmClient
    fields = ("environment", "client_id", "redirect_uris", "callback_url", "created_at")
    readonly_fields = fields


class ControllerChangeInline(ReadOnlyInline):
    model = ControllerChange
    fields = (
        "effective_on",
        "previous_legal_name",
        "previous_corporate_number",
        "new_legal_name",
        "new_corporate_number",
        "reason",
        "consents_affected",
        "recorded_by",
        "recorded_at",
    )
    readonly_fields = fields


class FirmEventInline(ReadOnlyInline):
    model = FirmEvent
    fields = ("at", "kind", "staff", "reason", "mailed_at", "mail_tried_at", "mail_failed_at", "mail_error")
    readonly_fields = fields


class ReasonForm(forms.Form):
    reason = forms.CharField(
        label="理由（事業者にメールで伝えます）",
        max_length=MAX_REASON_CHARS,
        widget=forms.Textarea(attrs={"rows": 4, "cols": 80}),
    )


class ControllerChangeForm(forms.Form):
    new_legal_name = forms.CharField(label="新しい法人名", max_length=200)
    new_legal_name_en = forms.CharField(label="新しい法人名（英語、任意）", max_length=200, required=False)
    new_corporate_number = forms.CharField(label="新しい法人番号（13桁）", max_length=20)
    reason = forms.CharField(
        label="理由（合併、事業譲渡など）",
        max_length=MAX_REASON_CHARS,
        widget=forms.Textarea(attrs={"rows": 3}),
    )
    effective_on = forms.DateField(label="効力発生日（YYYY-MM-DD）")


@admin.register(Firm)
class FirmAdmin(admin.ModelAdmin):
    list_display = (
        "legal_name",
        "corporate_number",
        "state",
        "production_allowed",
        "applied_at",
        "reviewed_at",
        "suspended_at",
    )
    list_filter = ("state", "production_allowed")
    search_fields = ("legal_name", "legal_name_en", "=corporate_number", "=public_id")
    exclude = ("manage_token_hash",)
    readonly_fields = (
        "public_id",
        *APPLICATION_FIELDS,
        "state",
        "production_allowed",
        "decision_reason",
        "reviewed_at",
        "reviewed_by",
        "suspended_at",
        "applied_at",
        "controller_change_link",
        "consent_ends_not_taken",
    )
    inlines = (FirmPurposeInline, FirmClientInline, ControllerChangeInline, FirmEventInline)
    actions = (
        "approve",
        "reject",
        "allow_production",
        "suspend",
        "unsuspend",
        "record_controller_change",
        "resend_consent_ends",
    )

    def has_add_permission(self, request) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    @admin.display(description="事業者の変更")
    def controller_change_link(self, obj: Firm) -> str:
        if not obj.pk:
            return ""
        url = reverse("admin:firms_firm_controller_change", args=[obj.pk])
        return format_html('<a href="{}">事業者の変更（合併・事業譲渡）を記録する</a>', url)

    @admin.display(description="同意終了の通知（届かず）")
    def consent_ends_not_taken(self, obj: Firm) -> str:
        # A count only: which residents' consents ended is not the staff's to read here.
        if not obj.pk:
            return ""
        count = consent_firm_tells_failed(firm_id=obj.pk).count()
        if not count:
            return "なし"
        return f"{count} 件（再試行が尽きました。事業者の受信先が直ったら「同意終了の通知を送り直す」）"

    def get_urls(self):
        return [
            path(
                "<int:firm_id>/controller-change/",
                self.admin_site.admin_view(self.controller_change_view),
                name="firms_firm_controller_change",
            ),
            *super().get_urls(),
        ]

    # --- decisions without input ---------------------------------------------------------------------------

    def _decide_each(self, request: HttpRequest, queryset: QuerySet[Firm], decide, done: str) -> None:
        decided = 0
        for firm in queryset:
            try:
                decide(firm_id=firm.pk, staff=request.user)
            except PortalError as refused:
                messages.error(request, f"{firm.legal_name}: {refused.message_ja}")
            else:
                decided += 1
        if decided:
            messages.success(request, f"{decided} 件を{done}。")

    @admin.action(description="承認する（検証環境のクライアントを発行）", permissions=["change"])
    def approve(self, request, queryset):
        self._decide_each(request, queryset, services.firm_approve, "承認しました")

    @admin.action(description="本番環境を認める（本番のクライアントを発行）", permissions=["change"])
    def allow_production(self, request, queryset):
        self._decide_each(request, queryset, services.firm_production_allow, "本番環境に認めました")

    @admin.action(description="停止を解除する", permissions=["change"])
    def unsuspend(self, request, queryset):
        self._decide_each(request, queryset, services.firm_unsuspend, "再開しました")

    @admin.action(description="同意終了の通知を送り直す（届かなかったもの）", permissions=["change"])
    def resend_consent_ends(self, request, queryset):
        queued = sum(consent_firm_tells_retry(firm_id=firm.pk) for firm in queryset)
        messages.success(request, f"同意終了の通知 {queued} 件を送り直します。")

    # --- decisions with a reason ---------------------------------------------------------------------------

    def _with_reason(self, request, queryset, *, action: str, title: str, decide, done: str):
        """An intermediate page asks the reason (required); the decision is taken when it is sent."""
        form = ReasonForm(request.POST if "apply" in request.POST else None)
        if form.is_bound and form.is_valid():
            reason = form.cleaned_data["reason"]
            self._decide_each(
                request,
                queryset,
                lambda firm_id, staff: decide(firm_id=firm_id, staff=staff, reason=reason),
                done,
            )
            return None
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": title,
            "form": form,
            "firms": queryset,
            "action": action,
            "action_checkbox_name": ACTION_CHECKBOX_NAME,
        }
        return TemplateResponse(request, "admin/firms/firm/reason.html", context)

    @admin.action(description="承認しない（理由を入力）", permissions=["change"])
    def reject(self, request, queryset):
        return self._with_reason(
            request,
            queryset,
            action="reject",
            title="申請を承認しない",
            decide=services.firm_reject,
            done="不承認にしました",
        )

    @admin.action(description="停止する（理由を入力、トークンはすぐに無効）", permissions=["change"])
    def suspend(self, request, queryset):
        return self._with_reason(
            request,
            queryset,
            action="suspend",
            title="事業者を停止する",
            decide=services.firm_suspend,
            done="停止しました",
        )

    # --- change of controller ------------------------------------------------------------------------------

    @admin.action(description="事業者の変更（合併・事業譲渡）を記録する", permissions=["change"])
    def record_controller_change(self, request, queryset):
        if queryset.count() != 1:
            messages.error(request, "事業者の変更は1件ずつ記録します。1件だけ選んでください。")
            return None
        return HttpResponseRedirect(reverse("admin:firms_firm_controller_change", args=[queryset.get().pk]))

    def controller_change_view(self, request: HttpRequest, firm_id: int) -> HttpResponse:
        firm = Firm.objects.filter(pk=firm_id).first()
        if firm is None:
            raise Http404
        if not self.has_change_permission(request, firm):
            raise PermissionDenied
        form = ControllerChangeForm(request.POST if request.method == "POST" else None)
        if form.is_bound and form.is_valid():
            data = form.cleaned_data
            try:
                change = services.controller_change_record(
                    firm_id=firm.pk,
                    staff=request.user,
                    new_legal_name=data["new_legal_name"],
                    new_legal_name_en=data["new_legal_name_en"],
                    new_corporate_number=data["new_corporate_number"],
                    reason=data["reason"],
                    effective_on=data["effective_on"],
                )
            except FirmInputInvalid as invalid:
                for problem in invalid.problems:
                    form.add_error(
                        problem.field if problem.field in form.fields else None, problem.message_ja
                    )
            except PortalError as refused:
                messages.error(request, refused.message_ja)
            else:
                messages.success(
                    request,
                    f"事業者の変更を記録しました（{change.previous_legal_name} → {change.new_legal_name}）。"
                    f"有効な同意 {change.consents_affected} 件は、改めて同意が必要になります。",
                )
                return HttpResponseRedirect(reverse("admin:firms_firm_change", args=[firm.pk]))
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "original": firm,
            "title": f"事業者の変更を記録する: {firm.legal_name}",
            "form": form,
        }
        return TemplateResponse(request, "admin/firms/firm/controller_change.html", context)
