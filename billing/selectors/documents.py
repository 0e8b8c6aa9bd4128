"""The invoice as a document (its preview page and its PDF): what the customer reads, from
the same rows the review page shows."""

from dataclasses import dataclass

from billing.models import Invoice, InvoiceLine
from billing.selectors.invoices import get_invoice_with_lines, invoice_terms
from config.money import Money
from mdm.models import BillingProfile


@dataclass(frozen=True)
class DocumentLine:
    description: str
    quantity: str  # "7.50 h", or "" for a fixed amount
    rate: str  # "150.00 USD / h", or ""
    amount: str  # "1,125.00 USD"


def invoice_document(*, invoice_id: int) -> dict:
    """Everything an invoice document prints, formatted once for both the HTML and the PDF.
    Raises Invoice.DoesNotExist."""
    invoice = get_invoice_with_lines(invoice_id=invoice_id)
    lines = list(invoice.lines.all())
    currency = invoice.currency
    profile = BillingProfile.objects.filter(
        customer_id=invoice.customer_id, legal_entity_id=invoice.legal_entity_id
    ).first()
    return {
        "invoice": invoice,
        "is_draft": invoice.status in (Invoice.Status.DRAFT, Invoice.Status.APPROVED),
        "title": invoice.title,
        "seller": invoice.legal_entity.name,
        "bill_to": _bill_to(invoice, profile),
        "terms": invoice_terms(invoice, lines),
        "lines": [_line(line, currency) for line in lines],
        "totals": [
            ("Net", Money(invoice.net_total, currency).format()),
            (_tax_label(invoice), Money(invoice.tax_total, currency).format()),
            ("Total due", Money(invoice.gross_total, currency).format()),
        ],
    }


def _bill_to(invoice: Invoice, profile: BillingProfile | None) -> list[str]:
    customer = invoice.customer
    rows = [customer.legal_name or customer.name]
    if profile is not None:
        rows += [profile.bill_to_line1, profile.bill_to_line2]
        place = " ".join(p for p in (profile.bill_to_postal_code, profile.bill_to_city) if p)
        rows += [", ".join(p for p in (place, profile.bill_to_region) if p)]
        rows += [profile.bill_to_country, f"Tax id {profile.tax_id}" if profile.tax_id else ""]
    return [row for row in rows if row]


def _line(line: InvoiceLine, currency: str) -> DocumentLine:
    hours = f"{line.hours} h" if line.hours is not None else ""
    rate = f"{Money(line.rate, currency).rounded().format()} / h" if line.rate is not None else ""
    return DocumentLine(
        description=line.description,
        quantity=hours,
        rate=rate,
        amount=Money(line.amount, currency).format(),
    )


def _tax_label(invoice: Invoice) -> str:
    if invoice.tax_rate is None:
        return f"Tax ({invoice.tax_jurisdiction}: the ERP's)"
    return f"Tax ({invoice.tax_jurisdiction} {invoice.tax_rate * 100:.2f} %)"
