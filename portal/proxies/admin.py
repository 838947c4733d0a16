"""Staff view of proxy grants, and ending every proxy of a resident at once on a support request.

The list shows no names; opening a grant shows the principal's and the proxy's names, so it is recorded in
the principal's history first.
"""

from django.contrib import admin, messages
from django.http import HttpResponse
from django.urls import path

from portal.core.errors import PortalError
from portal.identity.admin import staff_read_record
from portal.proxies import guardians, insurer, services
from portal.proxies.models import EndedBy, GuardianApplication, InsurerRegistration, ProxyGrant


@admin.register(ProxyGrant)
class ProxyGrantAdmin(admin.ModelAdmin):
    list_display = ("public_id", "kind", "state", "ends_on", "created_at", "ended_at", "ended_by")
    list_filter = ("kind", "state", "ended_by")
    search_fields = ("=public_id",)
    exclude = ("invitation_hash",)
    readonly_fields = (
        "public_id",
        "kind",
        "principal",
        "proxy",
        "scopes",
        "state",
        "invitation_expires_at",
        "ends_on",
        "accepted_at",
        "confirmed_at",
        "ended_at",
        "ended_by",
        "signing_request_id",
        "act_digest",
        "signer_serial_hash",
    )
    actions = ("end_every_proxy_of_these_principals",)

    def has_add_permission(self, request) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    def change_view(self, request, object_id, form_url="", extra_context=None):
        grant = self.get_object(request, object_id)
        if grant is not None and self.has_view_permission(request, grant):
            staff_read_record(
                request,
                owner=grant.principal,
                category="identity",
                items=["proxy_grant", "name"],
                purpose="support",
            )
        return super().change_view(request, object_id, form_url, extra_context)

    @admin.action(description="この方々の代理人をすべて終了する（ご本人からの依頼）", permissions=["view"])
    def end_every_proxy_of_these_principals(self, request, queryset):
        principals = {grant.principal for grant in queryset.select_related("principal")}
        ended = sum(services.grants_end_all(principal=p, by=EndedBy.STAFF) for p in principals)
        messages.success(request, f"{ended} 件の代理を終了しました。")


@admin.register(InsurerRegistration)
class InsurerRegistrationAdmin(admin.ModelAdmin):
    """Registrations of proxies with the medical insurer: no names, only states and the insurer's reasons.
    A failed registration or a refused withdrawal can be sent again."""

    list_display = (
        "public_id",
        "state",
        "last_error",
        "attempts",
        "created_at",
        "registered_at",
        "withdrawn_at",
    )
    list_filter = ("state", "last_error")
    search_fields = ("=public_id",)
    readonly_fields = tuple(f.name for f in InsurerRegistration._meta.fields if f.name != "id")
    actions = ("send_again",)

    def has_add_permission(self, request) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    @admin.action(
        description="医療保険者にもう一度送る（登録できなかったもの・取消を受け付けられなかったもの）",
        permissions=["change"],
    )
    def send_again(self, request, queryset):
        states = [
            insurer.insurer_registration_send_again(registration_id=pk)
            for pk in queryset.values_list("pk", flat=True)
        ]
        messages.success(request, f"{len(states)} 件を送り直しました。")


@admin.register(GuardianApplication)
class GuardianApplicationAdmin(admin.ModelAdmin):
    """Staff open the certificate (recorded), link the ward's user folder, then approve, reject or, when
    the court registration ends, withdraw."""

    list_display = ("public_id", "state", "submitted_at", "decided_at")
    list_filter = ("state",)
    search_fields = ("=public_id",)
    raw_id_fields = ("ward",)
    fields = (
        "public_id",
        "guardian",
        "ward_name",
        "ward_birth_date",
        "registry_number",
        "certificate_link",
        "state",
        "ward",
        "decision_note",
        "grant",
        "submitted_at",
        "decided_at",
    )
    # Staff edit only the ward's folder and their note; the rest is the guardian's or the decision's.
    readonly_fields = tuple(name for name in fields if name not in ("ward", "decision_note"))
    actions = ("approve", "reject", "withdraw")

    def has_add_permission(self, request) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    @admin.display(description="登記事項証明書")
    def certificate_link(self, obj: GuardianApplication) -> str:
        from django.utils.html import format_html

        return format_html('<a href="certificate/">PDF</a>') if obj.pk else ""

    def get_urls(self):
        return [
            path(
                "<int:object_id>/change/certificate/",
                self.admin_site.admin_view(self.certificate_view),
                name="proxies_guardianapplication_certificate",
            ),
            *super().get_urls(),
        ]

    def _record(self, request, application: GuardianApplication, items: list[str]) -> None:
        for owner in filter(None, (application.guardian, application.ward)):
            staff_read_record(
                request, owner=owner, category="identity", items=items, purpose="guardian_review"
            )

    def change_view(self, request, object_id, form_url="", extra_context=None):
        application = self.get_object(request, object_id)
        if application is not None and self.has_view_permission(request, application):
            self._record(request, application, ["ward_name", "ward_birth_date", "registry_number"])
        return super().change_view(request, object_id, form_url, extra_context)

    def certificate_view(self, request, object_id: int):
        application = self.get_object(request, str(object_id))
        if application is None or not self.has_view_permission(request, application):
            return HttpResponse(status=404)
        self._record(request, application, ["guardian_certificate"])
        response = HttpResponse(guardians.certificate_of(application), content_type="application/pdf")
        response["Content-Disposition"] = f'inline; filename="guardian-{application.public_id}.pdf"'
        return response

    def _decide(self, request, queryset, decide) -> None:
        for application in queryset:
            try:
                decide(application_id=application.pk, staff=request.user)
            except PortalError as refused:
                messages.error(request, f"{application.public_id}: {refused.message_ja}")

    @admin.action(
        description="承認する（後見人が全ての範囲で代理できるようになります）", permissions=["change"]
    )
    def approve(self, request, queryset):
        self._decide(request, queryset, guardians.guardian_approve)

    @admin.action(description="承認しない", permissions=["change"])
    def reject(self, request, queryset):
        self._decide(request, queryset, guardians.guardian_reject)

    @admin.action(description="登記の抹消により終了する（代理を終了）", permissions=["change"])
    def withdraw(self, request, queryset):
        self._decide(request, queryset, guardians.guardian_withdraw)
