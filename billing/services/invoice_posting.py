"""Approval, posting to the ERP and the invoice's status back to the CRM (issue 8).

draft → approved (finance) → posting (``erp.invoice.create`` queued in the same transaction)
→ posted (the ERP answered with its invoice id: delivery hook) → sent / partially_paid / paid
/ void (``erp.invoice.status_changed``). Every change from approval on is sent to the CRM
through the outbox (``crm.invoice_status.update``), in order per invoice.
"""

import logging
from decimal import Decimal

from django.db import transaction
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from billing.models import ApprovalAction, ApprovalRequest, Invoice, InvoiceLineEntry, TimeEntry
from billing.selectors.invoices import posting_problem
from billing.services.approvals import asks_second_pair, require_second_pair
from billing.services.history import set_change_reason, set_history_user
from billing.services.periods import is_closed
from billing.services.rating import RATE_MISMATCH
from config.errors import DomainError
from config.history_rows import record_history
from config.money import Money, amount_text, money_json
from config.roles import User
from exceptions_queue.services import raise_exception_item
from integrations.models import OutboxMessage
from integrations.registry import OutboxSubject
from integrations.services.outbox import enqueue_outbox_message, replay_outbox_message
from integrations.services.traces import record_trace_step
from mdm.models import BillingProfile
from mdm.services.routing import system_for_entity

logger = logging.getLogger(__name__)
ERP_CREATE = "erp.invoice.create"
CRM_STATUS = "crm.invoice_status.update"


class InvoiceNotApprovable(DomainError):
    code, http_status = "invoice_not_approvable", 409


class InvoiceNotFound(DomainError):
    code, http_status = "invoice_not_found", 404


def _lock(invoice_id: int) -> Invoice:
    invoice = (
        Invoice.objects.select_for_update()
        .select_related("customer", "legal_entity")
        .filter(pk=invoice_id)
        .first()
    )
    if invoice is None:
        raise InvoiceNotFound(f"no invoice {invoice_id}", id=invoice_id)
    return invoice


def _set_status(invoice: Invoice, status: str, *, detail: str = "") -> None:
    invoice.status, invoice.status_changed_at = status, timezone.now()
    set_change_reason(invoice, f"{status}: {detail}" if detail else status)
    invoice.save()
    record_trace_step(
        kind="record",
        action=status,
        summary=f"invoice {invoice.pk} {status}" + (f": {detail}" if detail else ""),
        subject=invoice,
    )
    enqueue_outbox_message(
        system=system_for_entity("crm", invoice.legal_entity),
        kind=CRM_STATUS,
        payload=_status_payload(invoice, status),
        idempotency_key=f"{CRM_STATUS}:{invoice.pk}:{status}",
        object_key=f"invoice:{invoice.pk}",
    )


def _status_payload(invoice: Invoice, status: str) -> dict:
    return {
        "invoice_id": str(invoice.pk),
        "erp_invoice_id": invoice.erp_invoice_id,
        "number": invoice.number,
        "status": status,
        "customer_id": str(invoice.customer_id),
        **_crm_ids(invoice),
        "legal_entity": invoice.legal_entity.code,
        "period": f"{invoice.period:%Y-%m}",
        "total": money_json(invoice.gross_total, invoice.currency),
        "amount_due": money_json(invoice.amount_due, invoice.currency),
    }


def _invoice_of(message: OutboxMessage) -> Invoice | None:
    return (
        Invoice.objects.select_related("customer", "legal_entity")
        .filter(pk=int(message.payload.get("invoice_id") or 0))
        .first()
    )


def rebuild_posting(message: OutboxMessage) -> dict | None:
    """outbox_rebuilders: an ``erp.invoice.create`` built again from the invoice as it is."""
    invoice = _invoice_of(message)
    return _erp_payload(invoice) if invoice is not None else None


def rebuild_status(message: OutboxMessage) -> dict | None:
    """outbox_rebuilders: a ``crm.invoice_status.update`` built again (the same status)."""
    invoice = _invoice_of(message)
    return _status_payload(invoice, message.payload["status"]) if invoice is not None else None


def _crm_ids(invoice: Invoice) -> dict:
    """The CRM's ids of what ``invoice`` bills: the account and the deals (opportunities) of
    its lines' contracts (one query)."""
    deals = sorted(
        set(invoice.lines.values_list("contract__crm_account_id", "contract__crm_opportunity_id")),
        key=lambda deal: deal[1],
    )
    return {
        "crm_account_id": deals[0][0] if deals else "",
        "crm_opportunity_ids": [opportunity for _account, opportunity in deals],
    }


def _erp_payload(invoice: Invoice) -> dict:
    lines = [
        {
            "line_id": str(line.pk),
            "kind": line.kind,
            "description": line.description,
            "role": line.role,
            "hours": None if line.hours is None else str(line.hours),
            "rate": None if line.rate is None else str(line.rate),
            "amount": amount_text(line.amount, invoice.currency),
        }
        for line in invoice.lines.order_by("pk")
    ]
    return {
        "invoice_id": str(invoice.pk),
        "customer_id": str(invoice.customer_id),
        "customer_throughline_id": invoice.customer.throughline_id,
        "erp_customer_id": _erp_customer_id(invoice),
        "legal_entity": invoice.legal_entity.code,
        "currency": invoice.currency,
        "tax_jurisdiction": invoice.tax_jurisdiction,
        "invoice_date": invoice.invoice_date.isoformat(),
        "period": f"{invoice.period:%Y-%m}",
        "net_total": amount_text(invoice.net_total, invoice.currency),
        "tax_total": amount_text(invoice.tax_total, invoice.currency),
        "gross_total": amount_text(invoice.gross_total, invoice.currency),
        "lines": lines,
    }


def _erp_customer_id(invoice: Invoice) -> str | None:
    """The ERP's id of the invoice's customer for its entity, when the ERP has answered."""
    profile = BillingProfile.objects.filter(
        customer_id=invoice.customer_id, legal_entity_id=invoice.legal_entity_id
    ).first()
    return (profile.erp_customer_id or None) if profile else None


@asks_second_pair
@transaction.atomic
def approve_invoice(
    *, invoice_id: int, approved_by: User, approval: ApprovalRequest | None = None
) -> Invoice:
    """Approve a draft and queue its creation in the ERP (idempotency key per invoice).

    Raises InvoiceNotFound, InvoiceNotApprovable (not a draft, or nothing on it, or its month
    closed), SecondApprovalRequired (a four-eyes rule: the request is recorded; ``approval`` is
    that request once another person approved it). Approving an invoice that is already
    approved or further along changes nothing (returns it), so a double click or a retried
    request does not post twice.
    """
    invoice = _lock(invoice_id)
    if invoice.status != Invoice.Status.DRAFT:
        if invoice.approved_at is not None:
            return invoice
        raise InvoiceNotApprovable(f"invoice {invoice.pk} is {invoice.status}", id=invoice.pk)
    if not invoice.lines.exists():
        raise InvoiceNotApprovable(f"invoice {invoice.pk} has no lines", id=invoice.pk)
    if is_closed(invoice.legal_entity_id, invoice.period):
        raise InvoiceNotApprovable(
            f"invoice {invoice.pk} is in {invoice.legal_entity.code}'s {invoice.period:%Y-%m}, "
            "which is closed: reopen the period, or move its time to an open month",
            id=invoice.pk,
        )
    require_second_pair(
        action=ApprovalAction.POST_INVOICE,
        subject_key=f"invoice:{invoice.pk}",
        subject_label=f"{invoice.title} ({invoice.customer.name})",
        payload={"invoice_id": invoice.pk},
        amount=Money(invoice.gross_total, invoice.currency),
        user=approved_by,
        approved=approval,
    )
    invoice.approved_by, invoice.approved_at = approved_by, timezone.now()
    set_history_user(invoice, approved_by)
    _set_status(invoice, Invoice.Status.APPROVED, detail=f"by {approved_by.get_username()}")
    enqueue_outbox_message(
        system=system_for_entity("erp", invoice.legal_entity),
        kind=ERP_CREATE,
        payload=_erp_payload(invoice),
        idempotency_key=f"{ERP_CREATE}:{invoice.pk}",
        object_key=f"invoice:{invoice.pk}",
        local_object=invoice,
        external_object_type="invoice",
    )
    _set_status(invoice, Invoice.Status.POSTING, detail="queued to the ERP")
    return invoice


def approve_invoices(*, invoice_ids: list[int], approved_by: User) -> tuple[int, list[str]]:
    """Bulk approval, each invoice in its own transaction (one refusal does not undo others)."""
    done = 0
    errors: list[str] = []
    for invoice_id in sorted(set(invoice_ids)):
        try:
            approve_invoice(invoice_id=invoice_id, approved_by=approved_by)
            done += 1
        except DomainError as exc:
            errors.append(exc.message)
    return done, errors


def describe_posting(message: OutboxMessage) -> OutboxSubject | None:
    """outbox_describers: the invoice an ``erp.invoice.create`` carries, for its dead letter's
    item (named, linked, and its gross total counted as revenue at risk)."""
    invoice = (
        Invoice.objects.select_related("customer")
        .filter(pk=int(message.payload.get("invoice_id") or 0))
        .first()
    )
    if invoice is None:
        return None
    return OutboxSubject(
        ref=f"{invoice.title} · {invoice.customer.name} · {invoice.period:%Y-%m}",
        amount=invoice.gross_total,
        currency=invoice.currency,
        url=invoice.get_absolute_url(),
    )


@transaction.atomic
def retry_posting(*, invoice_id: int, user: User) -> OutboxMessage:
    """Finance's retry of a failed posting: the dead ``erp.invoice.create`` is replayed (the
    same idempotency key: the ERP never books it twice). Raises InvoiceNotFound, or
    InvoiceNotApprovable when there is no failed posting to retry."""
    # The invoice is read, not locked: replaying locks the message, and delivering a message
    # locks it before the invoice (one order everywhere, no deadlock).
    invoice = Invoice.objects.filter(pk=invoice_id).first()
    if invoice is None:
        raise InvoiceNotFound(f"no invoice {invoice_id}", id=invoice_id)
    problem = posting_problem(invoice)
    if problem is None or not problem["dead"]:
        raise InvoiceNotApprovable(f"{invoice.title} has no failed posting to retry", id=invoice.pk)
    record_trace_step(
        kind="note",
        action="retry",
        summary=f"{invoice.title}: posting retried by {user.get_username()}",
        subject=invoice,
        trace_id=problem["message"].trace_id,
    )
    return replay_outbox_message(message_id=problem["message"].pk)


def on_message_delivered(message: OutboxMessage) -> None:
    """delivery_hooks: the ERP created the invoice → posted, with its id (in the outbox's
    transaction)."""
    if message.kind != ERP_CREATE:
        return
    invoice = _lock(int(message.payload["invoice_id"]))
    if invoice.status != Invoice.Status.POSTING:
        return
    invoice.erp_invoice_id = message.external_id or invoice.erp_invoice_id
    invoice.posted_at = timezone.now()
    _set_status(invoice, Invoice.Status.POSTED, detail=f"ERP invoice {invoice.erp_invoice_id}")
    read_back = (message.response or {}).get("status_changed")
    if read_back and invoice.erp_invoice_id:
        # The ERP answered with the invoice as it booked it (number, totals, state): record it
        # and compare its total with ours now, not at the next status change.
        apply_erp_invoice_status(data=read_back)


ERP_STATUSES = {
    "posted": Invoice.Status.POSTED,
    "sent": Invoice.Status.SENT,
    "partially_paid": Invoice.Status.PARTIALLY_PAID,
    "paid": Invoice.Status.PAID,
    "void": Invoice.Status.VOID,
}


@transaction.atomic
def apply_erp_invoice_status(*, data: dict) -> Invoice:
    """``erp.invoice.status_changed``: record the ERP's status, number, total and amount due;
    a total different from ours raises ``rate_mismatch`` for the invoice; void un-bills its
    entries (they go on the next draft of their month). Raises InvoiceNotFound for an ERP id
    Throughline has not posted yet (the inbox retries: the delivery may still be in flight)."""
    invoice = Invoice.objects.select_for_update().filter(erp_invoice_id=data["invoice_id"]).first()
    if invoice is None:
        raise InvoiceNotFound(f"no invoice posted as ERP {data['invoice_id']}")
    invoice = _lock(invoice.pk)
    if invoice.status == Invoice.Status.VOID:
        return invoice
    invoice.number = data.get("number") or invoice.number
    invoice.erp_total, invoice.amount_due = Decimal(data["total"]), Decimal(data["amount_due"])
    if invoice.posted_at is None:
        invoice.posted_at = parse_datetime(data["changed_at"])
    status = ERP_STATUSES[data["status"]]
    if data["currency"] != invoice.currency or invoice.erp_total != invoice.gross_total:
        _raise_total_mismatch(invoice, data)
    if status == Invoice.Status.VOID:
        _unbill(invoice)
    if status != invoice.status:
        _set_status(
            invoice, status, detail=f"from the ERP ({invoice.number or data['invoice_id']})"
        )
    else:
        set_change_reason(invoice, f"{status}: the ERP's number, total and amount due")
        invoice.save()
    return invoice


def _raise_total_mismatch(invoice: Invoice, data: dict) -> None:
    assert invoice.erp_total is not None  # set from the ERP's status just before
    difference = invoice.erp_total - invoice.gross_total
    raise_exception_item(
        type_code=RATE_MISMATCH,
        subject_key=f"invoice:{invoice.pk}",
        subject_ref=f"invoice {invoice.number or invoice.pk} ({invoice.period:%Y-%m})",
        subject=invoice,
        summary=(
            f"the ERP's total {data['total']} {data['currency']} differs from ours "
            f"{invoice.gross_total} {invoice.currency}"
        ),
        details={
            "erp_total": data["total"],
            "our_total": amount_text(invoice.gross_total, invoice.currency),
        },
        # One member per invoice: a later report replaces the difference instead of adding to it.
        member_key="erp_total",
        amount=abs(difference),
        currency=invoice.currency,
    )


def _unbill(invoice: Invoice) -> None:
    links = InvoiceLineEntry.objects.filter(line__invoice=invoice, is_active=True)
    entry_ids = list(links.values_list("time_entry_id", flat=True))
    links.update(is_active=False)
    now = timezone.now()
    TimeEntry.objects.filter(pk__in=entry_ids, status=TimeEntry.Status.INVOICED).update(
        status=TimeEntry.Status.RATED, updated_at=now
    )
    record_history(
        TimeEntry.objects.filter(pk__in=entry_ids, updated_at=now),
        reason=f"invoice {invoice.pk} void in the ERP: billable again",
    )
    logger.info("billing.invoice_void", extra={"invoice_id": invoice.pk, "entries": len(entry_ids)})
