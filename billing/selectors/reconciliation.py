"""Reads of the reconciliation control (docs/finance-controls/reconciliation.md): Throughline's
side of one legal entity's month (approved and rated time, what its invoices bill, the posted
invoices with where each was posted), the runs and their rows for the page and the API, and
the open mismatch items.

Money is summed in SQL as integer thousandths (``config.money_db.exact_sum``: exact on SQLite
too) and kept per currency, never added across.
"""

import calendar
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from django.db.models import Count, Max, Q, QuerySet

from billing.models import AccountingPeriod, BillingRun, Invoice, InvoiceLine, TimeEntry
from config.money import Money
from config.money_db import exact_sum, from_exact_sum
from exceptions_queue.models import ControlResult, ControlRun, ExceptionItem
from integrations.models import OutboxMessage
from mdm.models import LegalEntity

RECONCILIATION = "reconciliation"  # the control's code (ControlRun.control) and its item type
MISMATCH = "reconciliation_mismatch"
ERP_CREATE, CRM_STATUS = "erp.invoice.create", "crm.invoice_status.update"
# Invoices the ERP has booked: compared with what the ERP reads back.
POSTED_STATUSES = (
    Invoice.Status.POSTED,
    Invoice.Status.SENT,
    Invoice.Status.PARTIALLY_PAID,
    Invoice.Status.PAID,
    Invoice.Status.VOID,
)
APPROVED_TIME = (TimeEntry.Status.RATED, TimeEntry.Status.INVOICED, TimeEntry.Status.ON_HOLD)
UNSENT = (OutboxMessage.Status.PENDING, OutboxMessage.Status.SENDING, OutboxMessage.Status.FAILED)


@dataclass(frozen=True)
class PostedInvoice:
    """One posted invoice of the month as Throughline holds it."""

    pk: int
    title: str
    customer: str
    status: str
    erp_invoice_id: str
    erp_system_id: int | None  # the ERP it was posted to (None: not known, use the routing)
    net: Money
    tax: Money
    gross: Money
    crm_in_flight: bool  # a status for the CRM is still on its way (not a mismatch yet)


@dataclass(frozen=True)
class PeriodFigures:
    """Throughline's side of one legal entity's month."""

    period: str
    entity_id: int
    entity: str
    approved_hours: Decimal = Decimal("0.00")
    held_hours: Decimal = Decimal("0.00")
    rated: dict[str, Money] = field(default_factory=dict)
    unbilled: dict[str, Money] = field(default_factory=dict)
    unbilled_entries: int = 0
    billed: bool = False  # a billing run of the month covering the entity has finished
    closed: bool = False  # the entity's month is closed: its late time waits for a move
    invoiced: dict[str, Money] = field(default_factory=dict)
    invoice_count: int = 0
    invoices: tuple[PostedInvoice, ...] = ()


def month_bounds(month: date) -> tuple[date, date]:
    first = month.replace(day=1)
    return first, first.replace(day=calendar.monthrange(first.year, first.month)[1])


def _in_month(first: date, last: date) -> Q:
    """Time billed in the month: worked in it and not moved, or moved into it (PeriodMove)."""
    return Q(work_date__range=(first, last), billing_period__isnull=True) | Q(billing_period=first)


def _time_figures(first: date, last: date, entity_id: int) -> dict:
    rows = (
        TimeEntry.objects.filter(
            _in_month(first, last),
            is_billable=True,
            status__in=APPROVED_TIME,
            project__contract__legal_entity_id=entity_id,
        )
        .values("status", "currency")
        .annotate(
            hours=exact_sum("hours", places=2), amount=exact_sum("amount"), entries=Count("id")
        )
        .order_by("status", "currency")
    )
    figures: dict = {"approved": Decimal("0.00"), "held": Decimal("0.00"), "rated": {}}
    figures["unbilled"], figures["unbilled_entries"] = {}, 0
    for row in rows:
        hours = from_exact_sum(row["hours"], places=2)
        figures["approved"] += hours
        if row["status"] == TimeEntry.Status.ON_HOLD:
            figures["held"] += hours
            continue
        currency = row["currency"]
        amount = Money(from_exact_sum(row["amount"]), currency)
        figures["rated"][currency] = figures["rated"].get(currency, Money.zero(currency)) + amount
        if row["status"] == TimeEntry.Status.RATED:
            figures["unbilled"][currency] = amount
            figures["unbilled_entries"] += row["entries"]
    return figures


def _invoiced(first: date, entity_id: int) -> tuple[dict[str, Money], int]:
    """What the month's non-void invoices bill (their lines, net), per currency."""
    rows = (
        InvoiceLine.objects.filter(invoice__period=first, invoice__legal_entity_id=entity_id)
        .exclude(invoice__status=Invoice.Status.VOID)
        .values("invoice__currency")
        .annotate(amount=exact_sum("amount"))
        .order_by("invoice__currency")
    )
    amounts = {
        r["invoice__currency"]: Money(from_exact_sum(r["amount"]), r["invoice__currency"])
        for r in rows
    }
    count = (
        Invoice.objects.filter(period=first, legal_entity_id=entity_id)
        .exclude(status=Invoice.Status.VOID)
        .count()
    )
    return amounts, count


def _posted_invoices(first: date, entity_id: int) -> tuple[PostedInvoice, ...]:
    invoices = list(
        Invoice.objects.filter(period=first, legal_entity_id=entity_id, status__in=POSTED_STATUSES)
        .exclude(erp_invoice_id="")
        .select_related("customer")
        .order_by("pk")
    )
    keys = {f"{ERP_CREATE}:{invoice.pk}": invoice.pk for invoice in invoices}
    posted_to = dict(
        OutboxMessage.objects.filter(idempotency_key__in=list(keys))
        .values_list("idempotency_key", "system_id")
        .order_by()
    )
    in_flight = set(
        OutboxMessage.objects.filter(
            kind=CRM_STATUS,
            object_key__in=[f"invoice:{invoice.pk}" for invoice in invoices],
            status__in=UNSENT,
        ).values_list("object_key", flat=True)
    )
    return tuple(
        PostedInvoice(
            pk=invoice.pk,
            title=invoice.title,
            customer=invoice.customer.name,
            status=invoice.status,
            erp_invoice_id=invoice.erp_invoice_id,
            erp_system_id=posted_to.get(f"{ERP_CREATE}:{invoice.pk}"),
            net=Money(invoice.net_total, invoice.currency),
            tax=Money(invoice.tax_total, invoice.currency),
            gross=Money(invoice.gross_total, invoice.currency),
            crm_in_flight=f"invoice:{invoice.pk}" in in_flight,
        )
        for invoice in invoices
    )


def _billed(first: date, entity_id: int) -> bool:
    return BillingRun.objects.filter(
        Q(legal_entity__isnull=True) | Q(legal_entity_id=entity_id),
        period=first,
        customer__isnull=True,
        status=BillingRun.Status.FINISHED,
    ).exists()


def _closed(first: date, entity_id: int) -> bool:
    return AccountingPeriod.objects.filter(
        legal_entity_id=entity_id, period=first, status=AccountingPeriod.Status.CLOSED
    ).exists()


def get_period_figures(*, month: date, entity: LegalEntity) -> PeriodFigures:
    """Throughline's side of ``entity``'s ``month`` (eight queries, whatever its size)."""
    first, last = month_bounds(month)
    time = _time_figures(first, last, entity.pk)
    invoiced, count = _invoiced(first, entity.pk)
    return PeriodFigures(
        period=f"{first:%Y-%m}",
        entity_id=entity.pk,
        entity=entity.code,
        approved_hours=time["approved"],
        held_hours=time["held"],
        rated=time["rated"],
        unbilled=time["unbilled"],
        unbilled_entries=time["unbilled_entries"],
        billed=_billed(first, entity.pk),
        closed=_closed(first, entity.pk),
        invoiced=invoiced,
        invoice_count=count,
        invoices=_posted_invoices(first, entity.pk),
    )


def list_entities_to_reconcile(*, code: str | None = None) -> list[LegalEntity]:
    """The active legal entities (or the one named), by code."""
    entities = LegalEntity.objects.filter(is_active=True)
    if code:
        entities = LegalEntity.objects.filter(code=code)
    return list(entities.select_related("erp_system", "crm_system").order_by("code"))


def list_open_mismatches(*, prefix: str) -> dict[str, ExceptionItem]:
    """Open mismatch items whose subject key starts with ``prefix`` (``2026-11:US01:``)."""
    items = ExceptionItem.objects.filter(
        type_code=MISMATCH,
        subject_key__startswith=prefix,
        status__in=ExceptionItem.OPEN_STATUSES,
    )
    return {item.subject_key: item for item in items}


def dismissed_sides(*, subject_keys: list[str]) -> dict[str, tuple[str, str]]:
    """For each key whose latest closed item a person dismissed: the two sides it showed
    then (the same disagreement, dismissed, is not raised again)."""
    latest: dict[str, ExceptionItem] = {}
    closed = (
        ExceptionItem.objects.filter(type_code=MISMATCH, subject_key__in=subject_keys)
        .exclude(status__in=ExceptionItem.OPEN_STATUSES)
        .order_by("subject_key", "-resolved_at", "-pk")
    )
    for item in closed:
        latest.setdefault(item.subject_key, item)
    return {
        key: (str(item.details.get("ours", "")), str(item.details.get("theirs", "")))
        for key, item in latest.items()
        if item.status == ExceptionItem.Status.DISMISSED
    }


def count_open_mismatches() -> dict[str, int]:
    """Open mismatch items per check (``details["check"]``), for the dashboard."""
    rows = (
        ExceptionItem.objects.filter(type_code=MISMATCH, status__in=ExceptionItem.OPEN_STATUSES)
        .values("details__check")
        .annotate(items=Count("id"))
        .order_by()
    )
    return {str(row["details__check"] or ""): row["items"] for row in rows}


def list_latest_results(
    *, period: str | None = None, legal_entity: str | None = None
) -> QuerySet[ControlResult]:
    """The latest row of each (month, entity) the reconciliation has checked, newest month
    first; filtered by ``period`` (YYYY-MM) and ``legal_entity`` (code)."""
    results = ControlResult.objects.filter(control=RECONCILIATION)
    if period:
        results = results.filter(period=period)
    if legal_entity:
        results = results.filter(group=legal_entity)
    latest = results.values("period", "group").annotate(last=Max("id")).values("last")
    return (
        ControlResult.objects.filter(pk__in=latest)
        .select_related("run")
        .order_by("-period", "group", "-id")
    )


def list_reconciliation_runs() -> QuerySet[ControlRun]:
    return ControlRun.objects.filter(control=RECONCILIATION).order_by("-created_at", "-id")


def get_reconciliation_run(*, run_id: int) -> ControlRun | None:
    return list_reconciliation_runs().filter(pk=run_id).first()


def latest_reconciliation_run() -> ControlRun | None:
    return list_reconciliation_runs().first()
