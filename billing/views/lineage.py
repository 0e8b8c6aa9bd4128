"""Lineage pages (docs/finance-controls/lineage.md): an invoice line back to its rating, the
versions of its entries and the deliveries that carried them, and the ERP call that posted it
(``/invoices/<id>/lines/<line>/lineage/``); a delivery forward to the entries, lines, invoices
and postings it led to (``/events/<id>/lineage/``). Each as a vertical timeline in words."""

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse

from billing.models import InvoiceLine
from billing.selectors.lineage import (
    delivery_lineage,
    get_line,
    line_lineage,
    lineage_visibility,
)
from billing.views.lineage_timeline import (
    billing_items,
    entry_timeline,
    posting_items,
)
from config.policy import allows, can_see_subject, require
from integrations.models import InboundEvent


@login_required
def line_lineage_page(request: HttpRequest, invoice_id: int, line_id: int) -> HttpResponse:
    require(request, "lineage")
    try:
        line = get_line(invoice_id=invoice_id, line_id=line_id)
    except InvoiceLine.DoesNotExist as exc:
        raise Http404(f"no line {line_id} on invoice {invoice_id}") from exc
    if not can_see_subject(request, "billing.invoice", line.invoice):
        raise Http404(f"no line {line_id} on invoice {invoice_id}")
    lineage = line_lineage(line)
    postings = {line.invoice_id: lineage.posting} if lineage.posting else {}
    visible = lineage_visibility(
        request,
        events=[d.event for e in lineage.entries for d in e.deliveries],
        postings=postings,
        entry=lineage.entries[0].entry if lineage.entries else None,
        invoice=line.invoice,
    )
    context = {
        "lineage": lineage,
        "line": line,
        "invoice": line.invoice,
        "entries": [
            {"lineage": entry, "items": entry_timeline(entry, visible, request.user)}
            for entry in lineage.entries
        ]
        if visible.entries
        else [],
        "hidden_entries": len(lineage.entries) if not visible.entries else 0,
        "posting": posting_items(line.invoice, lineage.posting, visible),
    }
    return render(request, "billing/line_lineage.html", context)


@login_required
def event_lineage_page(request: HttpRequest, event_id: int) -> HttpResponse:
    require(request, "lineage")
    event = InboundEvent.objects.select_related("system").filter(pk=event_id).first()
    if event is None:
        raise Http404(f"no inbound event {event_id}")
    lineage = delivery_lineage(event)
    invoices = [b.invoice for e in lineage.entries for b in e.billings]
    visible = lineage_visibility(
        request,
        events=[event],
        postings=lineage.postings,
        entry=lineage.entries[0].entry if lineage.entries else None,
        invoice=invoices[0] if invoices else None,
    )
    context = {
        "lineage": lineage,
        "event": event,
        "evidence": event.pk in visible.evidence,
        "entries": [
            {"delivered": delivered, "items": billing_items(delivered, lineage, visible)}
            for delivered in lineage.entries
        ]
        if visible.entries
        else [],
        "hidden_entries": len(lineage.entries) if not visible.entries else 0,
    }
    return render(request, "billing/event_lineage.html", context)


def event_lineage_link(request: HttpRequest, event: InboundEvent) -> tuple[str, str] | None:
    """The link to a time delivery's forward lineage, for viewers who may read lineages
    (``integrations.registry.event_links``; no query)."""
    if not event.event_type.startswith("psa.time_entry.") or not allows(request.user, "lineage"):
        return None
    return ("Lineage", reverse("billing:event_lineage", args=[event.pk]))
