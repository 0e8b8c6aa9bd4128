"""Invoice drafts (docs/contract.md §5 "Drafts", "Tax", "Corrections"): groups, lines, credits, totals.

A draft belongs to one group (customer, legal entity, currency, tax jurisdiction) and month;
there is at most one draft per group and month (a partial unique index), and approved or
posted invoices are never changed here: later work of the month goes on a supplementary draft
(``sequence`` + 1). Totals are summed in integer minor units in SQL, exact on every backend.
"""

import calendar
import logging
from collections.abc import Iterable, Iterator
from datetime import date
from decimal import ROUND_HALF_UP, Decimal

from django.db import IntegrityError, connection, transaction
from django.db.models import Exists, Max, OuterRef
from django.utils import timezone

from billing.models import Contract, Invoice, InvoiceLine, InvoiceLineEntry, TaxRate, TimeEntry
from billing.services.history import set_change_reason
from config.history_rows import record_changed_history, record_history
from config.money import round_money
from config.money_db import exact_sum, from_exact_sum, sql_exact_sum
from integrations.services.traces import record_trace_step

logger = logging.getLogger(__name__)
NON_VOID = (
    Invoice.Status.DRAFT,
    Invoice.Status.APPROVED,
    Invoice.Status.POSTING,
    Invoice.Status.POSTED,
    Invoice.Status.SENT,
    Invoice.Status.PARTIALLY_PAID,
    Invoice.Status.PAID,
)
CHUNK = 500  # invoices per SQL statement in the totals step: bounded IN lists


def month_start(day: date) -> date:
    return day.replace(day=1)


def month_end(day: date) -> date:
    return day.replace(day=calendar.monthrange(day.year, day.month)[1])


def chunked(ids: Iterable[int], size: int = CHUNK) -> Iterator[list[int]]:
    batch: list[int] = []
    for value in ids:
        batch.append(value)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def group_of(contract: Contract) -> dict:
    return {
        "customer_id": contract.customer_id,
        "legal_entity_id": contract.legal_entity_id,
        "currency": contract.currency,
        "tax_jurisdiction": contract.tax_jurisdiction,
    }


def get_or_create_draft(*, group: dict, period: date) -> Invoice:
    """The open draft of ``group`` for the month of ``period``; a new one (a supplementary
    draft when the month already has an approved, posted or void invoice) when there is none.
    Safe against a concurrent creation of the same draft (the partial unique index)."""
    period = month_start(period)
    existing = Invoice.objects.filter(**group, period=period, status=Invoice.Status.DRAFT).first()
    if existing is not None:
        return existing
    last = Invoice.objects.filter(**group, period=period).aggregate(n=Max("sequence"))["n"] or 0
    draft = Invoice(
        **group,
        period=period,
        sequence=last + 1,
        status=Invoice.Status.DRAFT,
        invoice_date=month_end(period),
        trace_id=_trace(),
    )
    set_change_reason(draft, "draft opened")
    try:
        with transaction.atomic():
            draft.save()
    except IntegrityError:
        return Invoice.objects.get(**group, period=period, status=Invoice.Status.DRAFT)
    record_trace_step(
        kind="record",
        action="created",
        summary=f"invoice draft {period:%Y-%m} #{draft.sequence} for customer {draft.customer_id}",
        subject=draft,
    )
    return draft


def _trace() -> str:
    from integrations.services.traces import get_trace_id

    return get_trace_id()


def take_entry_off_invoices(*, entry: TimeEntry, reason: str) -> Invoice | None:
    """Take ``entry`` off the line that bills it (§5 "Corrections"). On a draft the link is
    removed and the draft refreshed; on an approved or posted invoice the link is kept but
    inactive, and this month's draft of the group carries a credit line of the old amount,
    negative. Returns the draft changed (or None). Runs in the caller's transaction."""
    link = (
        InvoiceLineEntry.objects.select_related("line__invoice", "line__contract")
        .filter(time_entry=entry, is_active=True)
        .first()
    )
    if entry.status == TimeEntry.Status.INVOICED:
        entry.status = TimeEntry.Status.RATED
    if link is None:
        return None
    invoice = link.line.invoice
    if invoice.status == Invoice.Status.DRAFT:
        link.delete()
        refresh_invoices(invoice_ids=[invoice.pk], reason=f"correction: {reason}")
        record_trace_step(
            kind="record",
            action="removed",
            summary=f"{entry.psa_time_entry_id} left draft {invoice.pk}: {reason}",
            subject=invoice,
        )
        return invoice
    link.is_active = False
    link.save(update_fields=["is_active"])
    draft = get_or_create_draft(group=group_of(link.line.contract), period=timezone.localdate())
    credit = InvoiceLine.objects.create(
        invoice=draft,
        kind=InvoiceLine.Kind.CREDIT,
        description=f"Credit {entry.psa_time_entry_id} ({reason}) billed on {invoice}",
        contract=link.line.contract,
        role=entry.role,
        person_email=entry.person_email,
        hours=-link.hours,
        rate=link.line.rate,
        amount=-link.amount,
        service_month=month_start(entry.work_date),
        reverses=link.line,
        group_key=f"credit:{link.pk}",
    )
    InvoiceLineEntry.objects.create(
        line=credit, time_entry=entry, hours=-link.hours, amount=-link.amount, is_active=False
    )
    refresh_invoices(invoice_ids=[draft.pk], reason=f"credit: {reason}")
    record_trace_step(
        kind="record",
        action="credited",
        summary=f"credit {-link.amount} {draft.currency} for {entry.psa_time_entry_id} on draft "
        f"{draft.pk} ({reason}; it was on {invoice})",
        subject=draft,
    )
    return draft


def prorated_retainer(contract: Contract, period: date) -> tuple[Decimal, Decimal, int, int]:
    """§5 retainer: (amount, included hours, contract days in the month, days in the month).
    Monthly amount x contract days / month days, half-up once; hours the same, to 2 places."""
    first, last = month_start(period), month_end(period)
    start, end = max(first, contract.start_date), min(last, contract.end_date)
    days, month_days = max((end - start).days + 1, 0), last.day
    monthly = contract.retainer_monthly_amount or Decimal("0")
    hours = contract.retainer_included_hours or Decimal("0")
    if days == month_days:
        return round_money(monthly, contract.currency), hours, days, month_days
    amount = round_money(monthly * days / month_days, contract.currency)
    included = (hours * days / month_days).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
    return amount, included, days, month_days


def _sum_time_lines(invoice_ids: list[int], reason: str, user_id: int | None) -> None:
    marks = ", ".join(["%s"] * len(invoice_ids))
    line, link = InvoiceLine._meta.db_table, InvoiceLineEntry._meta.db_table
    where = f"FROM {link} le WHERE le.line_id = {line}.id AND le.is_active = %s"
    sql = (
        f"UPDATE {line} SET hours = (SELECT {sql_exact_sum('le.hours', 2)} {where}), "
        f"amount = (SELECT {sql_exact_sum('le.amount')} {where}) "
        f"WHERE kind = %s AND invoice_id IN ({marks})"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [True, True, InvoiceLine.Kind.TIME, *invoice_ids])
    # The lines whose sums moved (and those the run's INSERT … SELECT made: no history yet).
    record_changed_history(
        InvoiceLine.objects.filter(kind=InvoiceLine.Kind.TIME, invoice_id__in=invoice_ids),
        compare=["hours", "amount"],
        reason=reason,
        user_id=user_id,
    )


def _refresh_retainer(line: InvoiceLine, reason: str) -> None:
    """Overage of one retainer line (§5): the month's billed hours past the included hours, in
    work_date, time_entry_id order, at each entry's rate, rounded per entry. Hours already
    billed for the month on earlier (approved) invoices use up the included hours first."""
    contract, month = line.contract, line.service_month
    assert month is not None  # a retainer line is always for its service month
    _amount, included, _days, _month_days = prorated_retainer(contract, month)
    earlier = InvoiceLineEntry.objects.filter(
        is_active=True,
        line__kind=InvoiceLine.Kind.RETAINER,
        line__contract=contract,
        line__service_month=month,
        line__invoice__status__in=NON_VOID,
    ).exclude(line__invoice_id=line.invoice_id)
    remaining = included - sum((h for h in earlier.values_list("hours", flat=True)), Decimal("0"))
    links = line.entries.filter(is_active=True).select_related("time_entry")
    hours_total, over_hours, over_amount = Decimal("0"), Decimal("0"), Decimal("0")
    for link in links.order_by("time_entry__work_date", "time_entry__psa_time_entry_id"):
        within = min(link.hours, max(remaining, Decimal("0")))
        over = link.hours - within
        remaining -= link.hours
        amount = round_money(over * (link.time_entry.rate or Decimal("0")), contract.currency)
        if link.amount != amount:
            link.amount = amount
            link.save(update_fields=["amount"])
        hours_total += link.hours
        over_hours, over_amount = over_hours + over, over_amount + amount
    if line.hours != hours_total:  # saved (and its history row written) only when it moves
        line.hours = hours_total
        set_change_reason(line, reason)
        line.save(update_fields=["hours"])
    key = f"overage:{contract.pk}:{month:%Y-%m}"
    overage = InvoiceLine.objects.filter(invoice_id=line.invoice_id, group_key=key).first()
    if over_hours <= 0:
        if overage is not None:
            overage.delete()
        return
    if overage is None:
        overage = InvoiceLine(
            invoice_id=line.invoice_id,
            kind=InvoiceLine.Kind.OVERAGE,
            contract=contract,
            service_month=month,
            group_key=key,
        )
    description = f"Overage {month:%Y-%m}: {over_hours} h past {included} h included"
    wanted = (description, over_hours, over_amount)
    if overage.pk and (overage.description, overage.hours, overage.amount) == wanted:
        return  # unchanged
    overage.description, overage.hours, overage.amount = description, over_hours, over_amount
    set_change_reason(overage, reason)
    overage.save()


def _tax_rate(jurisdiction: str, on: date, cache: dict) -> Decimal | None:
    key = (jurisdiction, on)
    if key not in cache:
        found = (
            TaxRate.objects.filter(jurisdiction=jurisdiction, valid_from__lte=on)
            .order_by("-valid_from")
            .values_list("rate", flat=True)
            .first()
        )
        cache[key] = found
    return cache[key]


def _refresh_totals(
    invoice_ids: list[int], tax_cache: dict, reason: str, user_id: int | None
) -> None:
    nets = dict(
        InvoiceLine.objects.filter(invoice_id__in=invoice_ids)
        .values("invoice_id")
        .annotate(net=exact_sum("amount"))
        .values_list("invoice_id", "net")
    )
    empty = [pk for pk in invoice_ids if pk not in nets]
    if empty:
        Invoice.objects.filter(pk__in=empty, status=Invoice.Status.DRAFT).delete()
    changed = []
    for invoice in Invoice.objects.filter(pk__in=list(nets), status=Invoice.Status.DRAFT):
        net = from_exact_sum(nets[invoice.pk])
        rate = _tax_rate(invoice.tax_jurisdiction, invoice.invoice_date, tax_cache)
        tax = round_money(net * rate, invoice.currency) if rate is not None else Decimal("0")
        totals = (net, rate, tax, net + tax)
        if totals == (invoice.net_total, invoice.tax_rate, invoice.tax_total, invoice.gross_total):
            continue  # unchanged: no write, no history row
        invoice.net_total, invoice.tax_rate, invoice.tax_total, invoice.gross_total = totals
        changed.append(invoice)
    Invoice.objects.bulk_update(
        changed, ["net_total", "tax_rate", "tax_total", "gross_total"], batch_size=CHUNK
    )
    record_history(
        Invoice.objects.filter(pk__in=[i.pk for i in changed]), reason=reason, user_id=user_id
    )


def _drop_orphan_adjustments(invoice_ids: list[int]) -> None:
    """A write-down or write-up (services/invoice_adjustments.py) of a line that is gone (all
    its entries left the draft) goes with it."""
    targets = {
        pk: int(key.split(":", 1)[1])
        for pk, key in InvoiceLine.objects.filter(
            invoice_id__in=invoice_ids, kind=InvoiceLine.Kind.ADJUSTMENT
        ).values_list("pk", "group_key")
    }
    if not targets:
        return
    alive = set(
        InvoiceLine.objects.filter(pk__in=set(targets.values())).values_list("pk", flat=True)
    )
    InvoiceLine.objects.filter(pk__in=[pk for pk, t in targets.items() if t not in alive]).delete()


def refresh_invoices(
    *, invoice_ids: Iterable[int], reason: str = "totals refreshed", user_id: int | None = None
) -> None:
    """Recompute the lines and totals of drafts: time lines sum their entries; a time line left
    without entries goes; retainer overage is recomputed; tax is net x the jurisdiction's rate
    on the invoice date, half-up (no rate known: no estimate); an empty draft is removed.
    Approved and posted invoices are left alone. Idempotent. Lines and invoices that change
    get a history row with ``reason`` and ``user_id`` (one statement per chunk)."""
    tax_cache: dict = {}
    drafts = Invoice.objects.filter(pk__in=list(invoice_ids), status=Invoice.Status.DRAFT)
    for chunk in chunked(drafts.values_list("pk", flat=True).iterator(chunk_size=CHUNK)):
        _sum_time_lines(chunk, reason, user_id)
        active = InvoiceLineEntry.objects.filter(line=OuterRef("pk"), is_active=True)
        InvoiceLine.objects.filter(invoice_id__in=chunk, kind=InvoiceLine.Kind.TIME).exclude(
            Exists(active)
        ).delete()
        _drop_orphan_adjustments(chunk)
        retainers = InvoiceLine.objects.filter(invoice_id__in=chunk, kind=InvoiceLine.Kind.RETAINER)
        for line in retainers.select_related("contract"):
            _refresh_retainer(line, reason)
        _refresh_totals(chunk, tax_cache, reason, user_id)
