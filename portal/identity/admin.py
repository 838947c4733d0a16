from django.contrib import admin

from portal.history.models import Channel
from portal.history.services import Actor, release_record
from portal.identity.models import CardCertificate, Resident, SecurityEvent, User


def staff_role(user: User) -> str:
    """The role residents read in their history: the staff member's first group, or plain "staff"."""
    group = user.groups.order_by("name").first()
    return group.name if group else "staff"


def staff_read_record(request, *, owner: Resident, category: str, items: list[str], purpose: str) -> None:
    """A resident's data opened in the staff console is a release to that staff member, under their role:
    recorded in the resident's history (and so alerted) before the page is drawn (SPEC 2.3)."""
    release_record(
        owner=owner,
        actor=Actor.for_staff(request.user, staff_role(request.user)),
        category=category,
        items=items,
        purpose=purpose,
        channel=Channel.ADMIN,
    )


@admin.register(User)
class UserAdmin(admin.ModelAdmin):
    list_display = ("username", "is_staff", "is_active", "date_joined")
    search_fields = ("username",)
    exclude = ("password",)


@admin.register(Resident)
class ResidentAdmin(admin.ModelAdmin):
    # The list shows no personal data; opening one resident is a release, recorded in their history
    # (and so alerted) before the page is drawn. The My Number and its hash are never shown here.
    list_display = ("public_id", "created_at")
    search_fields = ("=public_id",)
    exclude = ("my_number", "my_number_hash")
    readonly_fields = ("user", "public_id", "name", "name_kana", "birth_date", "sex", "address")
    # Staff may set only the address protection (支援措置), on the municipality's word.

    def has_add_permission(self, request) -> bool:
        return False

    def change_view(self, request, object_id, form_url="", extra_context=None):
        resident = self.get_object(request, object_id)
        if resident is not None and self.has_view_or_change_permission(request, resident):
            staff_read_record(
                request,
                owner=resident,
                category="basic_four",
                items=["name", "name_kana", "birth_date", "sex", "address"],
                purpose="support",
            )
        return super().change_view(request, object_id, form_url, extra_context)


@admin.register(CardCertificate)
class CardCertificateAdmin(admin.ModelAdmin):
    list_display = ("resident", "kind", "not_after", "last_used_at")
    readonly_fields = ("resident", "kind", "serial_hash", "not_after", "last_used_at")


@admin.register(SecurityEvent)
class SecurityEventAdmin(admin.ModelAdmin):
    list_display = ("created_at", "kind", "resident", "detail")
    list_filter = ("kind",)
    readonly_fields = ("kind", "resident", "signing_request_id", "detail", "created_at")

    def has_change_permission(self, request, obj=None) -> bool:
        return False
