from django.contrib import admin
from simple_history.admin import SimpleHistoryAdmin

from billing.models import TimeEntry
from config.admin import LedgerAdminMixin


@admin.register(TimeEntry)
class TimeEntryAdmin(LedgerAdminMixin, SimpleHistoryAdmin):
    """A ledger (config/admin.py): entries come from the PSA; fixes are exception actions."""

    list_display = [
        "psa_time_entry_id",
        "psa_project_id",
        "person_email",
        "role",
        "work_date",
        "hours",
        "status",
        "trace_id",
    ]
    list_filter = ["status", "is_billable", "category", ("work_date", admin.DateFieldListFilter)]
    search_fields = ["psa_time_entry_id", "psa_project_id", "person_email", "trace_id"]
    readonly_fields = ["trace_id", "created_at", "updated_at"]
