"""Bulk replay by business filter (integrations/services/outbox/replay.py ``replay_by_filter``):
what a customer, a project, a month or an invoice means as outbox object keys — its invoices'
postings and statuses, its project's provisioning, its customer's ERP upserts, its time."""

from django.db.models import QuerySet

from billing.models import Invoice, Project, TimeEntry
from billing.periods import period_from_text
from mdm.models import Customer


def _invoice_keys(invoices: QuerySet[Invoice]) -> list[str]:
    return [f"invoice:{pk}" for pk in invoices.values_list("pk", flat=True)]


def invoice_keys(value: str) -> list[str] | None:
    if not value.isdigit() or not Invoice.objects.filter(pk=int(value)).exists():
        return None
    return [f"invoice:{value}"]


def customer_keys(value: str) -> list[str] | None:
    customer = Customer.objects.filter(pk=int(value)).first() if value.isdigit() else None
    if customer is None:
        return None
    upserts = [
        f"customer:{customer.throughline_id}:{code}"
        for code in customer.billing_profiles.values_list("legal_entity__code", flat=True)
    ]
    projects = Project.objects.filter(customer=customer).values_list(
        "contract__crm_opportunity_id", flat=True
    )
    return [
        *_invoice_keys(Invoice.objects.filter(customer=customer)),
        *upserts,
        *(f"project:opportunity:{opportunity}" for opportunity in projects),
    ]


def project_keys(value: str) -> list[str] | None:
    project = Project.objects.filter(psa_project_id=value).select_related("contract").first()
    if project is None and value.isdigit():
        project = Project.objects.filter(pk=int(value)).select_related("contract").first()
    if project is None:
        return None
    invoices = Invoice.objects.filter(lines__contract=project.contract).distinct()
    entries = TimeEntry.objects.filter(project=project).values_list("psa_time_entry_id", flat=True)
    return [
        f"project:opportunity:{project.contract.crm_opportunity_id}",
        *_invoice_keys(invoices),
        *(f"time_entry:{entry}" for entry in entries),
    ]


def period_keys(value: str) -> list[str] | None:
    try:
        month = period_from_text(value)
    except ValueError:
        return None
    return _invoice_keys(Invoice.objects.filter(period=month))


FILTERS = {
    "invoice": invoice_keys,
    "customer": customer_keys,
    "project": project_keys,
    "period": period_keys,
}
