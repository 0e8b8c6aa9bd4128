"""Finance's changes to a draft before approval: write a line down or up, hold an entry to the
next billing run, take an entry off (written off). Each needs a reason, is recorded (history
rows with the person, a trace step), shows in the draft's totals and goes to the ERP with it.

A write-down or write-up is its own line (kind ``adjustment``, ``group_key`` ``adjust:<line>``)
of the difference, so the line it adjusts keeps summing its entries exactly and the ERP gets a
line that says what was done and why. Entries are locked before their invoice, as corrections
from the PSA lock them (one order, no deadlock).
"""

from decimal import Decimal, InvalidOperation

from django.db import transaction

from billing.models import (
    ApprovalAction,
    ApprovalRequest,
    Invoice,
    InvoiceLine,
    InvoiceLineEntry,
    TimeEntry,
)
from billing.services.approvals import asks_second_pair, require_second_pair
from billing.services.history import set_history_user
from billing.services.invoices import refresh_invoices, take_entry_off_invoices
from config.errors import DomainError
from config.money import Money, decimals_of, minor_units
from config.roles import User
from integrations.services.traces import record_trace_step

ADJUST_PREFIX = "adjust:"
REASON_MAX = 200


class AdjustmentRefused(DomainError):
    code, http_status = "invoice_adjustment_refused", 409


def _reason(text: str) -> str:
    reason = " ".join((text or "").split())
    if not reason:
        raise AdjustmentRefused("say why: a reason is required")
    if len(reason) > REASON_MAX:
        raise AdjustmentRefused(f"keep the reason under {REASON_MAX} characters")
    return reason


def _draft(invoice_id: int) -> Invoice:
    invoice = Invoice.objects.select_for_update().filter(pk=invoice_id).first()
    if invoice is None:
        raise AdjustmentRefused(f"no invoice {invoice_id}", id=invoice_id)
    if invoice.status != Invoice.Status.DRAFT:
        raise AdjustmentRefused(
            f"{invoice.title} is {invoice.get_status_display().lower()}: only drafts change; "
            "correct a posted invoice by a credit on the next draft",
            id=invoice.pk,
        )
    return invoice


def _amount(text: str, currency: str) -> Decimal:
    try:
        amount = Decimal(str(text).strip().replace(",", ""))
    except (InvalidOperation, ValueError) as exc:
        raise AdjustmentRefused(f"{text!r} is not an amount") from exc
    if not amount.is_finite() or amount < 0 or amount >= Decimal("1e15"):
        raise AdjustmentRefused("the new amount must be zero or more")
    if decimals_of(amount) > minor_units(currency):
        raise AdjustmentRefused(f"{currency} has {minor_units(currency)} decimals")
    return amount


def _guard_write_down(
    line: InvoiceLine,
    invoice: Invoice,
    target: Decimal,
    why: str,
    user: User,
    approval: ApprovalRequest | None,
) -> None:
    """Four eyes on a write-down (billing/services/approvals.py)."""
    require_second_pair(
        action=ApprovalAction.WRITE_DOWN,
        subject_key=f"line:{line.pk}",
        subject_label=f"“{line.description}” on {invoice.title}"[:300],
        payload={
            "invoice_id": invoice.pk,
            "line_id": line.pk,
            "new_amount": str(target),
            "reason": why,
        },
        amount=Money(line.amount - target, invoice.currency),
        user=user,
        approved=approval,
    )


@asks_second_pair
@transaction.atomic
def adjust_line(
    *,
    invoice_id: int,
    line_id: int,
    new_amount: str,
    reason: str,
    user: User,
    approval: ApprovalRequest | None = None,
) -> InvoiceLine:
    """Set what a draft's line bills to ``new_amount`` (a write-down below its amount, a
    write-up above), by an adjustment line of the difference; the line's own amount again
    removes the adjustment. Raises AdjustmentRefused, SecondApprovalRequired (a write-down a
    four-eyes rule names: ``approval`` is the approved request that runs it)."""
    why = _reason(reason)
    line = InvoiceLine.objects.filter(pk=line_id, invoice_id=invoice_id).first()
    if line is None:
        raise AdjustmentRefused(f"no invoice line {line_id}", id=line_id)
    invoice = _draft(line.invoice_id)
    if line.kind in (InvoiceLine.Kind.ADJUSTMENT, InvoiceLine.Kind.CREDIT):
        raise AdjustmentRefused("adjust the line itself, not a credit or an adjustment")
    target = _amount(new_amount, invoice.currency)
    key = f"{ADJUST_PREFIX}{line.pk}"
    existing = InvoiceLine.objects.filter(invoice=invoice, group_key=key).first()
    delta = target - line.amount
    words = "Write-down" if delta < 0 else "Write-up"
    if delta < 0:
        _guard_write_down(line, invoice, target, why, user, approval)
    if delta == 0:
        if existing is None:
            raise AdjustmentRefused("that is the line's amount already: nothing changes")
        existing.delete()
    else:
        adjustment = existing or InvoiceLine(
            invoice=invoice, kind=InvoiceLine.Kind.ADJUSTMENT, contract_id=line.contract_id
        )
        adjustment.group_key, adjustment.amount = key, delta
        adjustment.description = f"{words} of “{line.description}”: {why}"[:300]
        adjustment.role, adjustment.hours, adjustment.rate = line.role, None, None
        set_history_user(adjustment, user)
        adjustment.save()
    refresh_invoices(invoice_ids=[invoice.pk], reason=f"line adjusted: {why}", user_id=user.pk)
    shown = Money(target, invoice.currency).format()
    record_trace_step(
        kind="record",
        action="adjusted",
        summary=f"{invoice.title}: line {line.pk} to {shown} by {user.get_username()}: {why}",
        subject=invoice,
        trace_id=invoice.trace_id or None,
    )
    return line


def _entry_on_draft(invoice_id: int, entry_id: int) -> tuple[TimeEntry, InvoiceLineEntry]:
    entry = TimeEntry.objects.select_for_update().filter(pk=entry_id).first()
    if entry is None:
        raise AdjustmentRefused(f"no time entry {entry_id}", id=entry_id)
    invoice = _draft(invoice_id)
    link = InvoiceLineEntry.objects.filter(
        time_entry=entry, is_active=True, line__invoice=invoice
    ).first()
    if link is None:
        raise AdjustmentRefused(f"{entry.psa_time_entry_id} is not on {invoice.title}", id=entry.pk)
    return entry, link


@transaction.atomic
def hold_entry(*, invoice_id: int, entry_id: int, reason: str, user: User) -> TimeEntry:
    """Take an entry off the draft and leave it rated: the next billing run bills it."""
    why = _reason(reason)
    entry, _link = _entry_on_draft(invoice_id, entry_id)
    set_history_user(entry, user)
    take_entry_off_invoices(entry=entry, reason=f"held to the next run by {user.get_username()}")
    entry.save()
    record_trace_step(
        kind="record",
        action="held",
        summary=f"{entry.psa_time_entry_id} held to the next run by {user.get_username()}: {why}",
        subject=entry,
        trace_id=entry.trace_id or None,
    )
    return entry


@transaction.atomic
def remove_entry(*, invoice_id: int, entry_id: int, reason: str, user: User) -> TimeEntry:
    """Take an entry off the draft for good: not billed, written off (revenue leakage) with
    the amount it had on the line."""
    why = _reason(reason)
    entry, link = _entry_on_draft(invoice_id, entry_id)
    written = link.amount
    set_history_user(entry, user)
    take_entry_off_invoices(entry=entry, reason=f"removed by {user.get_username()}")
    entry.status = TimeEntry.Status.NON_BILLABLE
    entry.written_off_amount = written
    entry.write_off_reason = f"{why} ({user.get_username()}, removed from the draft)"
    entry.save()
    record_trace_step(
        kind="record",
        action="written_off",
        summary=f"{entry.psa_time_entry_id} removed from the draft by {user.get_username()} "
        f"({Money(written, entry.currency).format()}): {why}",
        subject=entry,
        trace_id=entry.trace_id or None,
    )
    return entry
