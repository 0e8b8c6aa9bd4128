"""Reads of invoicing: invoices with their lines, time entries, billing runs, rate cards."""

from django.db.models import Count, Prefetch, QuerySet

from billing.models import (
    BillingRun,
    Invoice,
    InvoiceLine,
    InvoiceLineEntry,
    RateCard,
    RateCardVersion,
    TimeEntry,
)
from config.money import Money, sum_by_currency
from exceptions_queue.selectors import open_item_about
from integrations.models import OutboxMessage
from mdm.models import BillingProfile


def list_invoices() -> QuerySet[Invoice]:
    return (
        Invoice.objects.select_related("customer", "legal_entity", "approved_by")
        .annotate(line_count=Count("lines"))
        .order_by("-period", "customer__name", "customer_id", "sequence", "pk")
    )


def get_invoice_with_lines(*, invoice_id: int) -> Invoice:
    links = InvoiceLineEntry.objects.select_related("time_entry").order_by(
        "time_entry__work_date", "time_entry__psa_time_entry_id"
    )
    lines = InvoiceLine.objects.select_related("contract__project", "milestone", "reverses")
    return (
        Invoice.objects.select_related("customer", "legal_entity", "approved_by")
        .prefetch_related(
            Prefetch(
                "lines", lines.prefetch_related(Prefetch("entries", links)).order_by("kind", "pk")
            )
        )
        .get(pk=invoice_id)
    )


def list_invoice_lines_for_api() -> Prefetch:
    links = InvoiceLineEntry.objects.select_related("time_entry").order_by("pk")
    return Prefetch(
        "lines",
        InvoiceLine.objects.select_related("milestone", "contract__project")
        .prefetch_related(Prefetch("entries", links))
        .order_by("kind", "pk"),
    )


def list_held_entries_for_invoice(*, invoice: Invoice) -> QuerySet[TimeEntry]:
    """What was held and why: held entries of the invoice's group and month."""
    return (
        TimeEntry.objects.filter(
            status=TimeEntry.Status.ON_HOLD,
            work_date__year=invoice.period.year,
            work_date__month=invoice.period.month,
            project__contract__customer_id=invoice.customer_id,
            project__contract__legal_entity_id=invoice.legal_entity_id,
            project__contract__currency=invoice.currency,
            project__contract__tax_jurisdiction=invoice.tax_jurisdiction,
        )
        .select_related("project")
        .order_by("work_date", "psa_time_entry_id")
    )


def list_time_entries_with_billing() -> QuerySet[TimeEntry]:
    active = InvoiceLineEntry.objects.filter(is_active=True).select_related("line__invoice")
    return (
        TimeEntry.objects.select_related("rate_card_version__card", "project")
        .prefetch_related(Prefetch("billings", active, to_attr="active_billings"))
        .order_by("-work_date", "psa_time_entry_id")
    )


def list_billing_runs() -> QuerySet[BillingRun]:
    return BillingRun.objects.select_related("legal_entity", "customer").order_by(
        "-created_at", "-pk"
    )


def list_rate_cards() -> QuerySet[RateCard]:
    versions = RateCardVersion.objects.prefetch_related("rates__role").order_by("valid_from")
    return (
        RateCard.objects.select_related("legal_entity")
        .prefetch_related(Prefetch("versions", versions))
        .order_by("legal_entity__code", "currency", "code")
    )


def posting_problem(invoice: Invoice) -> dict | None:
    """Why an approved invoice is not posted, when its ERP call failed: the message's status
    and last error, and its open exception item (None while the call is fine or in flight)."""
    if invoice.status != Invoice.Status.POSTING:
        return None
    message = (
        # The posting's idempotency key (billing/services/invoice_posting.py).
        OutboxMessage.objects.filter(idempotency_key=f"erp.invoice.create:{invoice.pk}")
        .order_by("-created_at")
        .first()
    )
    if message is None or message.status not in (
        OutboxMessage.Status.DEAD,
        OutboxMessage.Status.FAILED,
    ):
        return None
    return {
        "message": message,
        "dead": message.status == OutboxMessage.Status.DEAD,
        "error": message.last_error or "the ERP did not answer",
        "item": open_item_about(message),
    }


def approval_preview(*, invoice_ids: list[int]) -> dict:
    """What approving ``invoice_ids`` would post: the drafts with something on them, their
    totals per currency (never added across), and the others, which approval would skip."""
    chosen = list(list_invoices().filter(pk__in=invoice_ids))
    ready = [
        i for i in chosen if i.status == Invoice.Status.DRAFT and getattr(i, "line_count", 0) > 0
    ]
    totals = sum_by_currency(Money(i.gross_total, i.currency) for i in ready)
    return {
        "ready": ready,
        "skipped": [i for i in chosen if i not in ready],
        "totals": [totals[currency] for currency in sorted(totals)],
        "net_totals": [
            money
            for _, money in sorted(
                sum_by_currency(Money(i.net_total, i.currency) for i in ready).items()
            )
        ],
    }


def invoice_terms(invoice: Invoice, lines: list[InvoiceLine]) -> dict:
    """The purchase orders and payment terms the invoice bills under, as finance checks them:
    each project's PO number from its contract; payment terms from the contract, else the
    customer's billing profile for the invoice's entity (the ERP's record of them)."""
    contracts = {line.contract_id: line.contract for line in lines}
    orders = sorted({(c.project.name, c.po_number) for c in contracts.values() if c.po_number})
    on_contract = sorted({c.payment_terms for c in contracts.values() if c.payment_terms})
    profile_terms = (
        BillingProfile.objects.filter(
            customer_id=invoice.customer_id, legal_entity_id=invoice.legal_entity_id
        )
        .values_list("payment_terms", flat=True)
        .first()
    )
    if on_contract:
        terms, source = ", ".join(on_contract), "contract"
    else:
        terms, source = profile_terms or "", "billing profile" if profile_terms else ""
    return {"purchase_orders": orders, "payment_terms": terms, "terms_source": source}
