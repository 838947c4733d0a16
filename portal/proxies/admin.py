"""Staff view of proxy grants, and ending every proxy of a resident at once on a support request.

The list shows no names; opening a grant shows the principal's and the proxy's names, so it is recorded in
the principal's history first.
"""

from django.contrib import admin, messages

from portal.history.models import Channel
from portal.history.services import Actor, release_record
from portal.identity.admin import staff_role
from portal.proxies import services
from portal.proxies.models import EndedBy, ProxyGrant


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
            release_record(
                owner=grant.principal,
                actor=Actor.for_staff(request.user, staff_role(request.user)),
                category="identity",
                items=["proxy_grant", "name"],
                purpose="support",
                channel=Channel.ADMIN,
            )
        return super().change_view(request, object_id, form_url, extra_context)

    @admin.action(description="この方々の代理人をすべて終了する（ご本人からの依頼）", permissions=["view"])
    def end_every_proxy_of_these_principals(self, request, queryset):
        principals = {grant.principal for grant in queryset.select_related("principal")}
        ended = sum(services.grants_end_all(principal=p, by=EndedBy.STAFF) for p in principals)
        messages.success(request, f"{ended} 件の代理を終了しました。")
