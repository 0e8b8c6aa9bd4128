"""Four-eyes rules (which money-moving actions, from which amount; history of every change) and
the requests (read only: asked and decided on the approvals page or the API)."""

from django.contrib import admin
from simple_history.admin import SimpleHistoryAdmin

from billing.models import ApprovalRequest, ApprovalRule
from config.admin import LedgerAdminMixin


@admin.register(ApprovalRule)
class ApprovalRuleAdmin(SimpleHistoryAdmin):
    list_display = ["action", "threshold", "currency", "is_active"]
    list_editable = ["threshold", "currency", "is_active"]
    list_display_links = ["action"]


@admin.register(ApprovalRequest)
class ApprovalRequestAdmin(LedgerAdminMixin, SimpleHistoryAdmin):
    list_display = ["pk", "action", "subject_label", "amount", "currency", "status",
                    "requested_by", "decided_by", "requested_at"]  # fmt: skip
    list_filter = ["status", "action"]
    search_fields = ["subject_label", "subject_key"]
    readonly_fields = [f.name for f in ApprovalRequest._meta.fields]
