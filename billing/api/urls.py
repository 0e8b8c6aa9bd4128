from django.urls import path

from billing.api.views import invoices, projects, rate_cards, time_entries

urlpatterns = [
    path("time-entries/", time_entries.TimeEntryListView.as_view(), name="time-entry-list"),
    path("projects/", projects.ProjectListView.as_view(), name="project-list"),
    path("projects/<int:pk>/", projects.ProjectDetailView.as_view(), name="project-detail"),
    path("invoices/", invoices.InvoiceListView.as_view(), name="invoice-list"),
    path("invoices/<int:pk>/", invoices.InvoiceDetailView.as_view(), name="invoice-detail"),
    path(
        "invoices/<int:pk>/approve/", invoices.InvoiceApproveView.as_view(), name="invoice-approve"
    ),
    path("billing-runs/", invoices.BillingRunListView.as_view(), name="billing-run-list"),
    path(
        "billing-runs/<int:pk>/", invoices.BillingRunDetailView.as_view(), name="billing-run-detail"
    ),
    path("rate-cards/", rate_cards.RateCardListView.as_view(), name="rate-card-list"),
    path("rate-cards/<int:pk>/", rate_cards.RateCardDetailView.as_view(), name="rate-card-detail"),
]
