"""Read-only admin for information-provision records; opening one is a staff read, logged first (SPEC 2.3)."""

from django.contrib import admin
from django.http import HttpRequest, HttpResponse

from portal.identity.admin import staff_read_record
from portal.provision.models import CONTENT_FIELDS, ProvisionFetch, ProvisionRecord


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


@admin.register(ProvisionRecord)
class ProvisionRecordAdmin(ReadOnlyAdmin):
    # The list shows no content of the exchanges: only opening one shows it, and that is logged.
    list_display = ("resident", "external_id", "fetched_at")
    list_select_related = ("resident",)
    search_fields = ("external_id",)
    readonly_fields = ("resident", "external_id", *CONTENT_FIELDS, "fetched_at")

    def change_view(
        self, request: HttpRequest, object_id: str, form_url: str = "", extra_context: dict | None = None
    ) -> HttpResponse:
        record = self.get_object(request, object_id) if request.method in ("GET", "HEAD") else None
        if record is not None and self.has_view_permission(request, record):
            # Under the staff member's role, as in every other admin: residents read who looked.
            staff_read_record(
                request,
                owner=record.resident,
                category="provision_records",
                items=[record.external_id],
                purpose="support",
            )
        return super().change_view(request, object_id, form_url, extra_context)


@admin.register(ProvisionFetch)
class ProvisionFetchAdmin(ReadOnlyAdmin):
    list_display = ("resident", "last_attempt_at", "last_success_at", "last_error_code")
    list_filter = ("last_error_code",)
    list_select_related = ("resident",)
    readonly_fields = ("resident", "last_attempt_at", "last_success_at", "last_error_code")
