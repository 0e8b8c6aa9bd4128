from django.urls import path

from billing import views_demo, views_invoices, views_projects

app_name = "billing"

urlpatterns: list = [
    path("projects/", views_projects.project_list, name="project_list"),
    path("projects/<int:project_id>/", views_projects.project_detail, name="project_detail"),
    path("invoices/", views_invoices.invoice_list, name="invoice_list"),
    path("invoices/approve/", views_invoices.invoice_bulk_approve, name="invoice_bulk_approve"),
    path("invoices/<int:invoice_id>/", views_invoices.invoice_detail, name="invoice_detail"),
    path(
        "invoices/<int:invoice_id>/approve/",
        views_invoices.invoice_approve,
        name="invoice_approve",
    ),
    path("time/", views_invoices.time_entry_list, name="time_entry_list"),
    path("demo/traffic/", views_demo.demo_traffic_switch, name="demo_traffic_switch"),
    path("billing-runs/", views_invoices.billing_run_list, name="billing_run_list"),
    path(
        "billing-runs/<int:run_id>/",
        views_invoices.billing_run_detail,
        name="billing_run_detail",
    ),
]
