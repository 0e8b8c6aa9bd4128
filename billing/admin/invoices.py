"""Invoices and billing runs in the admin: read-mostly; approval goes through the service."""

from django.contrib import admin, messages
from simple_history.admin import SimpleHistoryAdmin

from billing.models import BillingRun, Invoice, InvoiceLine
from billing.services.invoice_posting import approve_invoices
from config.admin import LedgerAdminMixin


class InvoiceLineInline(LedgerAdminMixin, admin.TabularInline):
    model = InvoiceLine
    fk_name = "invoice"
    extra = 0
    can_delete = False
    fields = ["kind", "description", "hours", "rate", "amount", "service_month", "reverses"]
    readonly_fields = fields

    def has_add_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Invoice)
class InvoiceAdmin(LedgerAdminMixin, SimpleHistoryAdmin):
    """A ledger (config/admin.py): read-only; approval is the action, through the service."""

    list_display = [
        "pk",
        "customer",
        "legal_entity",
        "period",
        "sequence",
        "status",
        "net_total",
        "tax_total",
        "gross_total",
        "currency",
        "erp_invoice_id",
    ]
    list_filter = ["status", "currency", "legal_entity", ("period", admin.DateFieldListFilter)]
    search_fields = ["number", "erp_invoice_id", "customer__name", "trace_id"]
    list_select_related = ["customer", "legal_entity"]
    readonly_fields = [
        "net_total",
        "tax_rate",
        "tax_total",
        "gross_total",
        "erp_total",
        "amount_due",
        "erp_invoice_id",
        "number",
        "status",
        "approved_by",
        "approved_at",
        "posted_at",
        "status_changed_at",
        "trace_id",
    ]
    inlines = [InvoiceLineInline]
    actions = ["approve_selected"]

    @admin.action(description="Approve selected drafts (posts them to the ERP)")
    def approve_selected(self, request, queryset) -> None:
        ids = list(queryset.filter(status=Invoice.Status.DRAFT).values_list("pk", flat=True))
        done, errors = approve_invoices(invoice_ids=ids, approved_by=request.user)
        self.message_user(request, f"{done} approved.")
        for error in errors:
            self.message_user(request, error, level=messages.WARNING)


@admin.register(BillingRun)
class BillingRunAdmin(LedgerAdminMixin, admin.ModelAdmin):
    """Runs are started by the API, the invoices page or ``manage.py billing_run``."""

    list_display = ["pk", "period", "legal_entity", "customer", "status", "step", "progress"]
    list_filter = ["status", ("period", admin.DateFieldListFilter)]
    search_fields = ["trace_id"]
    list_select_related = ["legal_entity", "customer"]
    readonly_fields = ["status", "step", "progress", "counts", "error", "started_at", "finished_at"]
