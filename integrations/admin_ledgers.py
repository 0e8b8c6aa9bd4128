"""The admin of the runtime's pure ledgers (registered by integrations/admin.py): sync runs,
trace steps and the sandbox peers' records and calls, shown and never changed
(config/admin.py ``LedgerAdminMixin``)."""

from django.contrib import admin

from config.admin import LedgerAdminMixin
from integrations.models import SandboxCall, SandboxRecord, SyncRun, TraceStep


@admin.register(SyncRun)
class SyncRunAdmin(LedgerAdminMixin, admin.ModelAdmin):
    list_display = [
        "system",
        "kind",
        "status",
        "started_at",
        "finished_at",
        "read_count",
        "changed_count",
        "failed_count",
    ]
    list_filter = ["status", "system", "kind"]
    search_fields = ["trace_id"]
    list_select_related = ["system"]


@admin.register(TraceStep)
class TraceStepAdmin(LedgerAdminMixin, admin.ModelAdmin):
    list_display = ["at", "trace_id", "kind", "action", "summary", "client_request_id"]
    list_filter = ["kind"]
    search_fields = ["trace_id", "summary", "client_request_id"]


@admin.register(SandboxRecord)
class SandboxRecordAdmin(LedgerAdminMixin, admin.ModelAdmin):
    list_display = ["created_at", "system", "operation", "external_id", "idempotency_key"]
    list_filter = ["system", "operation"]
    search_fields = ["external_id", "idempotency_key"]
    list_select_related = ["system"]


@admin.register(SandboxCall)
class SandboxCallAdmin(LedgerAdminMixin, admin.ModelAdmin):
    list_display = ["at", "system", "operation", "outcome", "idempotency_key"]
    list_filter = ["system", "operation", "outcome"]
    search_fields = ["idempotency_key"]
    list_select_related = ["system"]
