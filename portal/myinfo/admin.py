"""Staff views of "my information": fetch states, and quarantined records for review (SPEC 2.6).

No list or form here shows agency data. A quarantined record's content is shown only on its own page,
after the staff member asks for it and the release is recorded in the resident's history (SPEC 2.3).
"""

import json

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html

from portal.agencies.client import AgencyError
from portal.identity.admin import staff_read_record
from portal.myinfo.models import CategoryEntry, Quarantine
from portal.myinfo.services import quarantine_report_send


@admin.register(CategoryEntry)
class CategoryEntryAdmin(admin.ModelAdmin):
    list_display = ("resident", "category", "state", "last_error_code", "as_of", "fetched_at", "expires_at")
    list_filter = ("state", "category", "last_error_code")
    list_select_related = ("resident",)
    exclude = ("payload",)
    readonly_fields = (
        "resident",
        "category",
        "agency_id",
        "state",
        "as_of",
        "fetched_at",
        "expires_at",
        "requested_at",
        "last_attempt_at",
        "last_error_code",
        "attempts",
        "consecutive_failures",
    )

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


@admin.register(Quarantine)
class QuarantineAdmin(admin.ModelAdmin):
    list_display = (
        "detected_at",
        "resident",
        "category",
        "agency_id",
        "mismatched",
        "report_id",
        "report_error",
        "review_state",
    )
    list_filter = ("review_state", "category", "agency_id")
    list_select_related = ("resident",)
    search_fields = ("=public_id", "=report_id")
    fields = (
        "resident",
        "category",
        "agency_id",
        "agency_code",
        "mismatched",
        "as_of",
        "detected_at",
        "last_seen_at",
        "report_id",
        "reported_at",
        "report_attempts",
        "report_error",
        "payload_link",
        "review_state",
        "review_note",
        "reviewed_by",
        "reviewed_at",
    )
    readonly_fields = tuple(f for f in fields if f not in ("review_state", "review_note"))
    actions = ("send_report",)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    @admin.display(description="Record content")
    def payload_link(self, obj: Quarantine) -> str:
        url = reverse("admin:myinfo_quarantine_payload", args=[obj.pk])
        return format_html('<a href="{}">Show the record (recorded in the resident\'s history)</a>', url)

    def save_model(self, request: HttpRequest, obj: Quarantine, form: object, change: bool) -> None:
        obj.reviewed_by = request.user
        obj.reviewed_at = timezone.now()
        super().save_model(request, obj, form, change)

    @admin.action(description="Send the mis-link report again (where not yet taken)")
    def send_report(self, request: HttpRequest, queryset: QuerySet[Quarantine]) -> None:
        sent = failed = 0
        for quarantine in queryset.filter(report_id=""):
            try:
                quarantine_report_send(quarantine_id=quarantine.pk)
                sent += 1
            except AgencyError:
                failed += 1
        self.message_user(request, f"Reports taken: {sent}; not taken: {failed}.", messages.INFO)

    def get_urls(self) -> list:
        # admin_view: staff only, and never cached (no copy of the record stays in a cache on the way).
        view = self.admin_site.admin_view(self.payload_view)
        return [
            path("<int:object_id>/payload/", view, name="myinfo_quarantine_payload"),
            *super().get_urls(),
        ]

    def payload_view(self, request: HttpRequest, object_id: int) -> HttpResponse:
        """GET asks; POST records the staff release in the resident's history, then shows the record."""
        quarantine = Quarantine.objects.select_related("resident").filter(pk=object_id).first()
        if quarantine is None:
            raise Http404
        if not self.has_view_permission(request, quarantine):
            raise PermissionDenied
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "original": quarantine,
            "title": f"Quarantined record: {quarantine}",
            "content": None,
        }
        if request.method == "POST":
            staff_read_record(
                request,
                owner=quarantine.resident,
                category=quarantine.category,
                items=["quarantined_record"],
                purpose="mislink_review",
            )
            context["content"] = json.dumps(json.loads(quarantine.payload), ensure_ascii=False, indent=2)
        return TemplateResponse(request, "admin/myinfo/quarantine/payload.html", context)
