"""Lineage pages (docs/finance-controls/lineage.md): an invoice line back to its rating, the
versions of its entries and the deliveries that carried them, and the ERP call that posted it
(``/invoices/<id>/lines/<line>/lineage/``); a delivery forward to the entries, lines, invoices
and postings it led to (``/events/<id>/lineage/``). Each as a vertical timeline in words."""

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse

from billing.selectors.lineage import seen_delivery_lineage, seen_line_lineage
from billing.views.lineage_timeline import (
    billing_items,
    entry_timeline,
    posting_items,
)
from config.policy import allows, require
from integrations.models import InboundEvent


@login_required
def line_lineage_page(request: HttpRequest, invoice_id: int, line_id: int) -> HttpResponse:
    require(request, "lineage")
    seen = seen_line_lineage(request, invoice_id=invoice_id, line_id=line_id)
    if seen is None:
        raise Http404(f"no line {line_id} on invoice {invoice_id}")
    line, lineage, visible = seen
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
    seen = seen_delivery_lineage(request, event_id=event_id)
    if seen is None:
        raise Http404(f"no inbound event {event_id}")
    event, lineage, visible = seen
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
