"""Steps ``retainers`` and ``milestones`` of the billing run: the month's retainer line per
retainer contract (prorated fee, its entries) and the fixed-fee milestones completed in it."""

from decimal import Decimal

from django.db import transaction
from django.db.models import Exists, OuterRef
from django.utils import timezone

from billing.models import Contract, InvoiceLine, InvoiceLineEntry, Milestone, TimeEntry
from billing.services.invoice_run.scope import Scope
from billing.services.invoices import NON_VOID, get_or_create_draft, group_of, prorated_retainer
from config.history_rows import record_history


def retainer_lines(scope: Scope) -> tuple[int, set[int]]:
    """One retainer line per retainer contract overlapping the month: the prorated fee once
    per month (a later supplementary draft gets a zero-fee line for late time), with the
    month's rated entries of the contract on it."""
    touched: set[int] = set()
    added = 0
    contracts = scope.contracts().filter(
        billing_model=Contract.BillingModel.RETAINER,
        start_date__lte=scope.last,
        end_date__gte=scope.first,
    )
    for contract in contracts.order_by("pk"):
        with transaction.atomic():
            added += _retainer_for(contract, scope, touched)
    return added, touched


def _billed(entry: TimeEntry) -> Decimal:
    assert entry.billed_hours is not None  # a rated entry has its billed hours
    return entry.billed_hours


def _retainer_for(contract: Contract, scope: Scope, touched: set[int]) -> int:
    fee_key = f"retainer:{contract.pk}:{scope.first:%Y-%m}"
    fee_billed = InvoiceLine.objects.filter(
        group_key=fee_key, invoice__status__in=NON_VOID
    ).exists()
    entries = list(
        TimeEntry.objects.select_for_update().filter(
            project__contract=contract,
            status=TimeEntry.Status.RATED,
            work_date__range=(scope.first, scope.last),
            billing_period__isnull=True,
        )
    )
    if fee_billed and not entries:
        return 0
    draft = get_or_create_draft(group=group_of(contract), period=scope.first)
    key = fee_key if not fee_billed else f"retainer-late:{contract.pk}:{scope.first:%Y-%m}"
    line = InvoiceLine.objects.filter(invoice=draft, group_key__in=[fee_key, key]).first()
    if line is None:
        amount, included, days, month_days = prorated_retainer(contract, scope.first)
        what = "late time" if fee_billed else f"{days}/{month_days} days, {included} h included"
        line = InvoiceLine.objects.create(
            invoice=draft,
            kind=InvoiceLine.Kind.RETAINER,
            description=f"Retainer {contract.name} {scope.first:%Y-%m} ({what})",
            contract=contract,
            hours=0,
            amount=amount if not fee_billed else 0,
            service_month=scope.first,
            group_key=key,
        )
    InvoiceLineEntry.objects.bulk_create(
        InvoiceLineEntry(line=line, time_entry=e, hours=_billed(e), amount=0) for e in entries
    )
    invoiced = TimeEntry.objects.filter(pk__in=[e.pk for e in entries])
    invoiced.update(status=TimeEntry.Status.INVOICED, updated_at=timezone.now())
    record_history(invoiced, reason=f"{scope.reason}: invoiced (retainer)", user_id=scope.user_id)
    touched.add(draft.pk)
    return len(entries)


def milestone_lines(scope: Scope) -> tuple[int, set[int]]:
    billed = InvoiceLine.objects.filter(
        milestone=OuterRef("pk"),
        kind=InvoiceLine.Kind.MILESTONE,
        invoice__status__in=NON_VOID,
        reversals__isnull=True,
    )
    milestones = (
        Milestone.objects.select_related("contract")
        .filter(
            contract__in=scope.contracts().filter(billing_model=Contract.BillingModel.FIXED_FEE),
            completed_on__range=(scope.first, scope.last),
        )
        .exclude(Exists(billed))
        .order_by("contract_id", "completed_on", "pk")
    )
    touched: set[int] = set()
    count = 0
    with transaction.atomic():
        for milestone in milestones:
            draft = get_or_create_draft(group=group_of(milestone.contract), period=scope.first)
            InvoiceLine.objects.create(
                invoice=draft,
                kind=InvoiceLine.Kind.MILESTONE,
                description=f"{milestone.contract.name}: {milestone.name} "
                f"(completed {milestone.completed_on})",
                contract=milestone.contract,
                milestone=milestone,
                amount=milestone.amount,
                service_month=scope.first,
                group_key=f"milestone:{milestone.pk}",
            )
            touched.add(draft.pk)
            count += 1
    return count, touched
