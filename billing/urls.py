from django.urls import path

from billing.views import (
    adjustments,
    approvals,
    demo,
    documents,
    invoices,
    leakage,
    lineage,
    periods,
    previews,
    projects,
    rates,
    reconciliation,
)

app_name = "billing"

urlpatterns: list = [
    path("projects/", projects.project_list, name="project_list"),
    path("projects/<int:project_id>/", projects.project_detail, name="project_detail"),
    path(
        "projects/<int:project_id>/rerate/preview/",
        previews.project_rerate_preview,
        name="project_rerate_preview",
    ),
    path("projects/<int:project_id>/rerate/", previews.project_rerate, name="project_rerate"),
    path("invoices/", invoices.invoice_list, name="invoice_list"),
    path("invoices/approve/", invoices.invoice_bulk_approve, name="invoice_bulk_approve"),
    path(
        "invoices/approve/confirm/",
        invoices.invoice_approve_confirm,
        name="invoice_approve_confirm",
    ),
    path("invoices/<int:invoice_id>/", invoices.invoice_detail, name="invoice_detail"),
    path(
        "invoices/<int:invoice_id>/approve/",
        invoices.invoice_approve,
        name="invoice_approve",
    ),
    path(
        "invoices/<int:invoice_id>/retry-posting/",
        adjustments.invoice_retry_posting,
        name="invoice_retry_posting",
    ),
    path(
        "invoices/<int:invoice_id>/lines/<int:line_id>/adjust/",
        adjustments.line_adjust,
        name="invoice_line_adjust",
    ),
    path(
        "invoices/<int:invoice_id>/entries/<int:entry_id>/hold/",
        adjustments.entry_hold,
        name="invoice_entry_hold",
    ),
    path(
        "invoices/<int:invoice_id>/entries/<int:entry_id>/remove/",
        adjustments.entry_remove,
        name="invoice_entry_remove",
    ),
    path(
        "invoices/<int:invoice_id>/preview/",
        documents.invoice_preview,
        name="invoice_preview",
    ),
    path("invoices/<int:invoice_id>/pdf/", documents.invoice_pdf, name="invoice_pdf"),
    path("time/", invoices.time_entry_list, name="time_entry_list"),
    path("approvals/", approvals.approval_list, name="approval_list"),
    path("approvals/<int:request_id>/", approvals.approval_decide, name="approval_decide"),
    path("billing-runs/preview/", previews.billing_run_preview, name="billing_run_preview"),
    path("rates/", rates.rate_list, name="rate_list"),
    path("rates/cards/<int:card_id>/preview/", rates.card_preview, name="rate_card_preview"),
    path("rates/rules/<int:rule_id>/preview/", rates.rule_preview, name="billing_rule_preview"),
    path("periods/", periods.period_list, name="period_list"),
    path("periods/status/", periods.period_set_status, name="period_set_status"),
    path("periods/late-time/move/", periods.late_time_move, name="late_time_move"),
    path("demo/traffic/", demo.demo_traffic_switch, name="demo_traffic_switch"),
    path("billing-runs/", invoices.billing_run_list, name="billing_run_list"),
    path(
        "billing-runs/<int:run_id>/",
        invoices.billing_run_detail,
        name="billing_run_detail",
    ),
    path("reconciliation/", reconciliation.reconciliation, name="reconciliation"),
    path(
        "reconciliation/runs/<int:run_id>/",
        reconciliation.reconciliation_run,
        name="reconciliation_run",
    ),
    path("leakage/", leakage.leakage_ledger, name="leakage"),
    path(
        "invoices/<int:invoice_id>/lines/<int:line_id>/lineage/",
        lineage.line_lineage_page,
        name="line_lineage",
    ),
    path("events/<int:event_id>/lineage/", lineage.event_lineage_page, name="event_lineage"),
]
