"""Accounting periods (status per entity and month, every change in history) and the moves of
late time (read only: made on the period-close page or the API, by finance's decision)."""

from django.contrib import admin
from simple_history.admin import SimpleHistoryAdmin

from billing.models import AccountingPeriod, PeriodMove
from config.admin import LedgerAdminMixin


@admin.register(AccountingPeriod)
class AccountingPeriodAdmin(SimpleHistoryAdmin):
    list_display = ["legal_entity", "period", "status", "closed_at", "closed_by", "note"]
    list_filter = ["status", "legal_entity"]
    date_hierarchy = "period"
    readonly_fields = ["closed_at", "closed_by"]


@admin.register(PeriodMove)
class PeriodMoveAdmin(LedgerAdminMixin, admin.ModelAdmin):
    list_display = [
        "legal_entity",
        "from_period",
        "to_period",
        "entries",
        "hours",
        "approved_by",
        "approved_at",
    ]
    list_filter = ["legal_entity"]
    readonly_fields = [f.name for f in PeriodMove._meta.fields]
