"""Staff review of public-fund accounts registered by more than one resident (SPEC 1: flagged accounts).

Lists show no number, only bank, branch and the masked number. Opening an account is a release to staff,
recorded in the resident's history (and so alerted) before the page is drawn. Staff decide with two
actions, each recorded and told to the resident; nothing here edits an account by hand.
"""

from django.contrib import admin, messages
from django.db.models import Count, OuterRef, Subquery

from portal.account import services
from portal.account.models import AccountApplication, AccountEvent, PublicFundAccount, ReviewState
from portal.identity.admin import staff_read_record


class ReadOnlyAdmin(admin.ModelAdmin):
    """Nothing edited by hand; opening a row shows a resident's account data, so it is recorded first."""

    view_items: tuple[str, ...] = ("bank", "branch", "account_type", "account_number_masked", "holder_kana")

    def change_view(self, request, object_id, form_url="", extra_context=None):
        obj = self.get_object(request, object_id)
        if obj is not None and self.has_view_permission(request, obj):
            staff_read_record(
                request,
                owner=obj.resident,
                category="public_fund_account",
                items=list(self.view_items),
                purpose="account_review",
            )
        return super().change_view(request, object_id, form_url, extra_context)

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


@admin.register(PublicFundAccount)
class PublicFundAccountAdmin(ReadOnlyAdmin):
    list_display = (
        "public_id",
        "bank_code",
        "branch_code",
        "number_masked",
        "review_state",
        "same_account",
        "flagged_at",
    )
    list_filter = ("review_state",)
    search_fields = ("=public_id", "=number_hash")
    fields = (
        "public_id",
        "resident",
        "bank_code",
        "branch_code",
        "account_type",
        "number_masked",
        "holder_kana",
        "number_hash",
        "review_state",
        "flagged_at",
        "verified_at",
        "registered_at",
        "updated_at",
    )
    readonly_fields = fields
    actions = ("clear_review", "remove_registration")

    def get_queryset(self, request):
        same = (
            PublicFundAccount.objects.filter(number_hash=OuterRef("number_hash"))
            .values("number_hash")
            .annotate(n=Count("pk"))
            .values("n")
        )
        return super().get_queryset(request).annotate(same_count=Subquery(same))

    @admin.display(description="同じ口座の登録数")
    def same_account(self, obj: PublicFundAccount) -> int:
        return obj.same_count

    @admin.action(description="確認済みにする（給付に利用可）", permissions=["view"])
    def clear_review(self, request, queryset):
        flagged = queryset.filter(review_state=ReviewState.FLAGGED)
        for account in flagged:
            services.account_review_clear(account_id=account.pk, staff=request.user)
        messages.success(request, f"{flagged.count()} 件を確認済みにしました。")

    @admin.action(description="登録を取り消す（本人に通知）", permissions=["view"])
    def remove_registration(self, request, queryset):
        ids = list(queryset.values_list("pk", flat=True))
        for account_id in ids:
            services.account_review_remove(account_id=account_id, staff=request.user)
        messages.success(request, f"{len(ids)} 件の登録を取り消しました。")


@admin.register(AccountApplication)
class AccountApplicationAdmin(ReadOnlyAdmin):
    list_display = (
        "public_id",
        "kind",
        "state",
        "bank_result",
        "bank_code",
        "branch_code",
        "number_masked",
        "created_at",
    )
    list_filter = ("state", "bank_result", "kind")
    exclude = ("number",)


@admin.register(AccountEvent)
class AccountEventAdmin(ReadOnlyAdmin):
    list_display = ("at", "kind", "actor", "actor_ref", "resident")
    list_filter = ("kind", "actor")
