"""The audit trail in /admin/: read-only, for everyone (RELIABILITY.md A7); /audit/ is the
console's own page for it."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.contrib import admin
from django.http import HttpRequest

from users.models import AuditEvent

# ModelAdmin is generic for the type checker only (django-stubs), not at run time.
if TYPE_CHECKING:
    _ModelAdmin = admin.ModelAdmin[AuditEvent]
else:
    _ModelAdmin = admin.ModelAdmin


@admin.register(AuditEvent)
class AuditEventAdmin(_ModelAdmin):
    """No add, change or delete permission, whoever asks: the change view shows a row's
    fields read-only and the list offers no delete action."""

    list_display = ("at", "operator_name", "action", "target", "outcome", "error_code", "request_id")
    list_filter = ("outcome", "action")
    search_fields = ("operator_name", "action", "target", "request_id")
    date_hierarchy = "at"
    show_full_result_count = False

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: AuditEvent | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: AuditEvent | None = None) -> bool:
        return False
