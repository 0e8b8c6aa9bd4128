"""An invoice as the customer reads it: a preview page (printable) and its PDF, for finance,
drafts included (marked as drafts)."""

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render

from billing.models import Invoice
from billing.selectors.documents import invoice_document
from billing.views.invoice_pdf import render_invoice_pdf
from config.policy import require


def _document(invoice_id: int) -> dict:
    try:
        return invoice_document(invoice_id=invoice_id)
    except Invoice.DoesNotExist as exc:
        raise Http404(f"no invoice {invoice_id}") from exc


@login_required
def invoice_preview(request: HttpRequest, invoice_id: int) -> HttpResponse:
    require(request, "invoices")
    return render(request, "billing/invoice_preview.html", _document(invoice_id))


@login_required
def invoice_pdf(request: HttpRequest, invoice_id: int) -> HttpResponse:
    require(request, "invoices")
    document = _document(invoice_id)
    response = HttpResponse(render_invoice_pdf(document), content_type="application/pdf")
    name = document["invoice"].number or f"draft-{invoice_id}"
    safe = "".join(c if c.isalnum() or c in "-_." else "-" for c in name)
    response["Content-Disposition"] = f'inline; filename="invoice-{safe}.pdf"'
    return response
