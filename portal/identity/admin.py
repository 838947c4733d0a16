from django.contrib import admin

from portal.identity.models import CardCertificate, Resident, SecurityEvent, User


@admin.register(User)
class UserAdmin(admin.ModelAdmin):
    list_display = ("username", "is_staff", "is_active", "date_joined")
    search_fields = ("username",)
    exclude = ("password",)


@admin.register(Resident)
class ResidentAdmin(admin.ModelAdmin):
    # The My Number and its hash are never shown to staff here.
    list_display = ("public_id", "name", "name_kana", "created_at")
    search_fields = ("name_kana",)
    exclude = ("my_number", "my_number_hash")
    readonly_fields = ("user", "public_id", "name", "name_kana", "birth_date", "sex", "address")

    def has_add_permission(self, request) -> bool:
        return False


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
