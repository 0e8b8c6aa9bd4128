"""Small hand-built data sets for the dashboard figures: rows made directly (the figures read
state, however it was reached), dated relative to today so the age buckets are stable."""

import itertools
from datetime import datetime, time, timedelta
from decimal import Decimal

from django.utils import timezone

from billing.models import (
    Contract,
    FxRate,
    Invoice,
    InvoiceLine,
    InvoiceLineEntry,
    TimeEntry,
)
from tests.factories import billing_invoices as f

_ids = itertools.count(1)
TODAY = None


def today():
    return timezone.localdate()


def days_ago(n: int):
    return today() - timedelta(days=n)


def at(day, hour: int = 9) -> datetime:
    return timezone.make_aware(datetime.combine(day, time(hour)))


def entry(
    project,
    *,
    status,
    work_date,
    hours="1.00",
    amount=None,
    cost=None,
    person=None,
    role="consultant",
    currency=None,
    cost_currency="USD",
    approved_at=None,
) -> TimeEntry:
    currency = currency or project.contract.currency
    billed = status in (TimeEntry.Status.RATED, TimeEntry.Status.INVOICED)
    return TimeEntry.objects.create(
        psa_time_entry_id=f"TE-D{next(_ids):05d}",
        psa_project_id=project.psa_project_id,
        phase_code="DISC",
        person_email=person or "ana@acme.example",
        role=role,
        work_date=work_date,
        hours=Decimal(hours),
        is_billable=True,
        category="delivery",
        approved_at=approved_at or at(work_date, 18),
        status=status,
        project=project,
        billed_hours=Decimal(hours) if billed else None,
        amount=Decimal(amount) if amount is not None else None,
        currency=currency if amount is not None else "",
        cost_amount=Decimal(cost) if cost is not None else None,
        cost_currency=cost_currency if cost is not None else "",
        trace_id="t",
    )


def fx(source: str, target: str, rate: str, day) -> FxRate:
    return FxRate.objects.create(
        from_currency=source, to_currency=target, rate=Decimal(rate), date=day
    )


def invoice(
    project,
    *,
    status=Invoice.Status.POSTED,
    invoice_date=None,
    approved_at=None,
    posted_at=None,
    sequence=None,
) -> Invoice:
    contract = project.contract
    invoice_date = invoice_date or days_ago(40)
    return Invoice.objects.create(
        customer=contract.customer,
        legal_entity=contract.legal_entity,
        currency=contract.currency,
        tax_jurisdiction=contract.tax_jurisdiction,
        period=invoice_date.replace(day=1),
        sequence=sequence or next(_ids),
        status=status,
        invoice_date=invoice_date,
        approved_at=approved_at,
        posted_at=posted_at,
    )


def line(
    invoice_, project, *, kind=InvoiceLine.Kind.TIME, amount="0.00", entries=()
) -> InvoiceLine:
    created = InvoiceLine.objects.create(
        invoice=invoice_,
        kind=kind,
        description=kind,
        contract=project.contract,
        amount=Decimal(amount),
        group_key=f"{kind}:{next(_ids)}",
    )
    for time_entry in entries:
        InvoiceLineEntry.objects.create(
            line=created,
            time_entry=time_entry,
            hours=time_entry.hours,
            amount=time_entry.amount or 0,
            is_active=invoice_.status != Invoice.Status.VOID,
        )
    return created


def gb_project(psa_project_id="PRJ-GB1", client_name="Initech"):
    entity = f.legal_entity("GB01", currency="GBP", jurisdictions=("GB",))
    return f.project(
        psa_project_id,
        entity=entity,
        client=f.customer(client_name),
        currency="GBP",
        tax_jurisdiction="GB",
        crm_account_id="002B",
    )


def fixed_fee_project(psa_project_id="PRJ-FF1"):
    return f.project(psa_project_id, billing_model=Contract.BillingModel.FIXED_FEE)


def retainer_project(psa_project_id="PRJ-RT1"):
    return f.project(
        psa_project_id, billing_model=Contract.BillingModel.RETAINER, retainer=("500.00", "10")
    )
