from django.urls import path

from billing.api import periods, views

urlpatterns = [
    path("time-entries/", views.TimeEntryListView.as_view(), name="time-entry-list"),
    path("projects/", views.ProjectListView.as_view(), name="project-list"),
    path("projects/<int:pk>/", views.ProjectDetailView.as_view(), name="project-detail"),
    path("invoices/", views.InvoiceListView.as_view(), name="invoice-list"),
    path("invoices/<int:pk>/", views.InvoiceDetailView.as_view(), name="invoice-detail"),
    path("invoices/<int:pk>/approve/", views.InvoiceApproveView.as_view(), name="invoice-approve"),
    path("billing-runs/", views.BillingRunListView.as_view(), name="billing-run-list"),
    path("billing-runs/<int:pk>/", views.BillingRunDetailView.as_view(), name="billing-run-detail"),
    path("rate-cards/", views.RateCardListView.as_view(), name="rate-card-list"),
    path("periods/", periods.PeriodListView.as_view(), name="period-list"),
    path("late-time/", periods.LateTimeView.as_view(), name="late-time"),
    path("late-time/move/", periods.LateTimeMoveView.as_view(), name="late-time-move"),
    path("rate-cards/<int:pk>/", views.RateCardDetailView.as_view(), name="rate-card-detail"),
]
