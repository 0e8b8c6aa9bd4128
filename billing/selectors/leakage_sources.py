"""The rows of each reason of the leakage ledger (docs/finance-controls/leakage.md): one query
per reason, whatever the number of rows (what a row needs from other tables is a subquery of
it); no writes."""

from datetime import date, timedelta

from django.db.models import BigIntegerField, Exists, F, OuterRef, Q, Subquery
from django.db.models.functions import Cast, Substr, TruncMonth

from billing.models import BillingRun, Invoice, InvoiceLine, InvoiceLineEntry, TimeEntry
from billing.selectors.leakage_rows import (
    ADJUST_PREFIX,
    HELD,
    LATE,
    NEVER_BILLED,
    NEVER_BILLED_GRACE_DAYS,
    WRITTEN_DOWN,
    WRITTEN_OFF,
    LeakageFilters,
    LeakageRow,
    age_in_days,
    entries_in_scope,
    entry_fields,
    invoices_in_scope,
    money_or_none,
    month_of,
    months_between,
    next_month,
)
from billing.selectors.time import unbilled_time
from exceptions_queue.models import ExceptionItem, ExceptionMember, Queue
from exceptions_queue.registry import exception_types

ADJUSTED_KEY = rf"^{ADJUST_PREFIX}[0-9]+$"  # only a well-formed key is cast to a line id


def _type_title(code: str) -> str:
    found = exception_types.get(code)
    return found.title if found is not None else code.replace("_", " ")


def held_rows(filters: LeakageFilters, day: date) -> list[LeakageRow]:
    item = ExceptionItem.objects.filter(
        type_code=OuterRef("hold_reason"),
        subject_key=OuterRef("hold_key"),
        status__in=ExceptionItem.OPEN_STATUSES,
    )
    member = ExceptionMember.objects.filter(
        item__type_code=OuterRef("hold_reason"),
        item__subject_key=OuterRef("hold_key"),
        item__status__in=ExceptionItem.OPEN_STATUSES,
        member_key=OuterRef("psa_time_entry_id"),
        released_at__isnull=True,
    )
    held = (
        entries_in_scope(filters)
        .filter(status=TimeEntry.Status.ON_HOLD)
        .annotate(
            item_id=Subquery(item.values("pk")[:1]),
            item_queue=Subquery(item.values("queue")[:1]),
            item_assignee=Subquery(item.values("assignee__username")[:1]),
            item_since=Subquery(item.values("first_seen_at")[:1]),
            at_risk=Subquery(member.values("amount")[:1]),
            at_risk_currency=Subquery(member.values("currency")[:1]),
        )
    )
    rows = []
    for entry in held:
        queue = Queue(entry.item_queue).label if entry.item_queue in Queue.values else ""
        owner = f"{queue} queue · {entry.item_assignee or 'unassigned'}" if queue else "No item"
        rows.append(
            LeakageRow(
                reason=HELD,
                detail=_type_title(entry.hold_reason),
                hours=entry.hours,
                amount=money_or_none(entry.at_risk, entry.at_risk_currency or ""),
                owner=owner,
                item_id=entry.item_id,
                item_queue=entry.item_queue or "",
                happened_at=entry.item_since,
                **entry_fields(entry, day),
            )
        )
    return rows


def written_off_rows(filters: LeakageFilters, day: date) -> list[LeakageRow]:
    # The row that wrote it off: its first history row with the reason it has now.
    first = TimeEntry.history.filter(
        id=OuterRef("pk"), write_off_reason=OuterRef("write_off_reason")
    ).order_by("history_date", "history_id")
    written = (
        entries_in_scope(filters)
        .filter(status=TimeEntry.Status.NON_BILLABLE)
        .exclude(write_off_reason="")
        .annotate(
            written_at=Subquery(first.values("history_date")[:1]),
            written_by=Subquery(first.values("history_user__username")[:1]),
        )
    )
    return [
        LeakageRow(
            reason=WRITTEN_OFF,
            detail=entry.write_off_reason,
            hours=entry.billed_hours if entry.billed_hours is not None else entry.hours,
            amount=money_or_none(entry.written_off_amount, entry.currency),
            owner=entry.written_by or "Unknown",
            happened_at=entry.written_at,
            **entry_fields(entry, day),
        )
        for entry in written
    ]


def written_down_rows(filters: LeakageFilters, day: date) -> list[LeakageRow]:
    latest = InvoiceLine.history.filter(id=OuterRef("pk")).order_by("-history_date", "-history_id")
    # The adjusted line's id from the adjustment's group key, and its entries' first work date.
    first_work = InvoiceLineEntry.objects.filter(line_id=OuterRef("adjusted_id")).order_by(
        "time_entry__work_date"
    )
    adjustments = (
        InvoiceLine.objects.filter(
            kind=InvoiceLine.Kind.ADJUSTMENT, amount__lt=0, group_key__regex=ADJUSTED_KEY
        )
        .exclude(invoice__status=Invoice.Status.VOID)
        .filter(filters.months("invoice__period"), invoices_in_scope(filters, "invoice__"))
        .select_related("invoice__customer", "invoice__legal_entity", "contract__project")
        .annotate(
            adjusted_id=Cast(Substr("group_key", len(ADJUST_PREFIX) + 1), BigIntegerField()),
            adjusted_at=Subquery(latest.values("history_date")[:1]),
            adjusted_by=Subquery(latest.values("history_user__username")[:1]),
            first_work=Subquery(first_work.values("time_entry__work_date")[:1]),
        )
        .order_by("pk")
    )
    rows = []
    for line in adjustments:
        invoice, project = line.invoice, getattr(line.contract, "project", None)
        worked = line.first_work or invoice.period
        rows.append(
            LeakageRow(
                reason=WRITTEN_DOWN,
                detail=line.description,
                month=invoice.period,
                work_date=worked,
                age_days=age_in_days(day, worked),
                hours=None,
                amount=money_or_none(-line.amount, invoice.currency),
                owner=line.adjusted_by or "Unknown",
                customer_id=invoice.customer_id,
                customer_name=invoice.customer.name,
                legal_entity=invoice.legal_entity.code,
                project_id=project.pk if project else None,
                project_name=project.name if project else "",
                psa_project_id=(project.psa_project_id or "") if project else "",
                invoice_id=invoice.pk,
                invoice_title=invoice.title,
                line_id=line.adjusted_id,
                happened_at=line.adjusted_at,
            )
        )
    return rows


def late_rows(filters: LeakageFilters, day: date) -> list[LeakageRow]:
    links = (
        InvoiceLineEntry.objects.filter(
            is_active=True, line__kind__in=(InvoiceLine.Kind.TIME, InvoiceLine.Kind.RETAINER)
        )
        .exclude(line__invoice__status=Invoice.Status.VOID)
        .exclude(amount=0)  # within a retainer's included hours: billed by the fee, on time
        .annotate(work_month=TruncMonth("time_entry__work_date"))
        .filter(line__invoice__period__gt=F("work_month"))
        .filter(filters.months("time_entry__work_date"))
        .filter(invoices_in_scope(filters, "line__invoice__"))
        .select_related(
            "line__invoice__customer",
            "line__invoice__legal_entity",
            "line__invoice__approved_by",
            "time_entry__project__customer",
            "time_entry__project__contract__legal_entity",
        )
        .order_by("pk")
    )
    rows = []
    for link in links:
        entry, invoice = link.time_entry, link.line.invoice
        late = months_between(month_of(entry.work_date), invoice.period)
        approver = invoice.approved_by.get_username() if invoice.approved_by else ""
        rows.append(
            LeakageRow(
                reason=LATE,
                detail=f"on {invoice.title} of {invoice.period:%B %Y}, "
                f"{late} month{'s' if late != 1 else ''} after the work",
                hours=link.hours,
                amount=money_or_none(link.amount, invoice.currency),
                owner=approver or "Finance queue · not approved yet",
                invoice_id=invoice.pk,
                invoice_title=invoice.title,
                line_id=link.line_id,
                months_late=late,
                happened_at=invoice.approved_at,
                **entry_fields(entry, day),
            )
        )
    return rows


def _ran() -> Exists:
    """A finished billing run of the entry's work month that covers it: of every entity or of
    its entity, of every customer or of its customer (the contract's)."""
    contract = "project__contract__"
    runs = BillingRun.objects.filter(
        status=BillingRun.Status.FINISHED, period=OuterRef("work_month")
    ).filter(
        Q(legal_entity__isnull=True) | Q(legal_entity_id=OuterRef(f"{contract}legal_entity_id")),
        Q(customer__isnull=True) | Q(customer_id=OuterRef(f"{contract}customer_id")),
    )
    return Exists(runs)


def never_billed_rows(filters: LeakageFilters, day: date) -> list[LeakageRow]:
    candidates = (
        entries_in_scope(filters)
        .filter(unbilled_time(), work_date__lt=month_of(day))
        .annotate(work_month=TruncMonth("work_date"))
        .annotate(ran=_ran())
    )
    rows = []
    for entry in candidates:
        month = month_of(entry.work_date)
        ran = entry.ran
        month_end = next_month(month) - timedelta(days=1)
        if not ran and (day - month_end).days <= NEVER_BILLED_GRACE_DAYS:
            continue
        rows.append(
            LeakageRow(
                reason=NEVER_BILLED,
                detail=f"the {month:%B %Y} billing run did not bill it"
                if ran
                else f"not billed {NEVER_BILLED_GRACE_DAYS} days after {month:%B %Y} ended",
                hours=entry.billed_hours,
                amount=money_or_none(entry.amount, entry.currency),
                owner="Finance queue · next billing run",
                happened_at=entry.rated_at,
                **entry_fields(entry, day),
            )
        )
    return rows
