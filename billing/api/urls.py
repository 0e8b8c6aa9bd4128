from django.urls import path

from billing.api import approvals, leakage, lineage, periods, previews, reconciliation, views

urlpatterns = [
    path("time-entries/", views.TimeEntryListView.as_view(), name="time-entry-list"),
    path("projects/", views.ProjectListView.as_view(), name="project-list"),
    path("projects/<int:pk>/", views.ProjectDetailView.as_view(), name="project-detail"),
    path("projects/<int:pk>/rerate/", previews.ProjectRerateView.as_view(), name="project-rerate"),
    path("invoices/", views.InvoiceListView.as_view(), name="invoice-list"),
    path("invoices/<int:pk>/", views.InvoiceDetailView.as_view(), name="invoice-detail"),
    path("invoices/<int:pk>/approve/", views.InvoiceApproveView.as_view(), name="invoice-approve"),
    path("billing-runs/", views.BillingRunListView.as_view(), name="billing-run-list"),
    path(
        "billing-runs/preview/",
        previews.BillingRunPreviewView.as_view(),
        name="billing-run-preview",
    ),
    path("billing-runs/<int:pk>/", views.BillingRunDetailView.as_view(), name="billing-run-detail"),
    path("rate-cards/", views.RateCardListView.as_view(), name="rate-card-list"),
    path("approvals/", approvals.ApprovalListView.as_view(), name="approval-list"),
    path(
        "approvals/<int:pk>/approve/",
        approvals.ApprovalApproveView.as_view(),
        name="approval-approve",
    ),
    path(
        "approvals/<int:pk>/reject/", approvals.ApprovalRejectView.as_view(), name="approval-reject"
    ),
    path("periods/", periods.PeriodListView.as_view(), name="period-list"),
    path("late-time/", periods.LateTimeView.as_view(), name="late-time"),
    path("late-time/move/", periods.LateTimeMoveView.as_view(), name="late-time-move"),
    path("rate-cards/<int:pk>/", views.RateCardDetailView.as_view(), name="rate-card-detail"),
    path(
        "rate-cards/<int:pk>/preview/",
        previews.RateCardPreviewView.as_view(),
        name="rate-card-preview",
    ),
    path(
        "reconciliation/",
        reconciliation.ReconciliationListView.as_view(),
        name="reconciliation-list",
    ),
    path(
        "reconciliation/run/",
        reconciliation.ReconciliationRunView.as_view(),
        name="reconciliation-run",
    ),
    path(
        "reconciliation/runs/<int:pk>/",
        reconciliation.ReconciliationRunDetailView.as_view(),
        name="reconciliation-run-detail",
    ),
    path("leakage/", leakage.LeakageView.as_view(), name="leakage"),
    path(
        "invoices/<int:pk>/lines/<int:line_id>/lineage/",
        lineage.LineLineageView.as_view(),
        name="invoice-line-lineage",
    ),
    path("events/<int:pk>/lineage/", lineage.EventLineageView.as_view(), name="event-lineage"),
]
