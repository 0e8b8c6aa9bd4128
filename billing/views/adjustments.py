"""Finance's changes to an invoice from its page: write a draft's line down or up, hold an
entry to the next run, take an entry off (billing/services/invoice_adjustments.py), retry a
posting the ERP refused (billing/services/invoice_posting.py). Each answers with the
invoice page and a message; a refusal (a posted invoice, no reason, a bad amount) is a message,
never an error page."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.views.decorators.http import require_POST

from billing.services.approvals import SecondApprovalRequired
from billing.services.invoice_adjustments import adjust_line, hold_entry, remove_entry
from billing.services.invoice_posting import retry_posting
from config.errors import DomainError
from config.policy import require


def _done(request: HttpRequest, invoice_id: int, work, success: str) -> HttpResponse:
    try:
        work()
    except SecondApprovalRequired as exc:
        messages.warning(request, exc.message)
    except DomainError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, success)
    return redirect("billing:invoice_detail", invoice_id=invoice_id)


@login_required
@require_POST
def line_adjust(request: HttpRequest, invoice_id: int, line_id: int) -> HttpResponse:
    require(request, "invoices", "adjust")
    return _done(
        request,
        invoice_id,
        lambda: adjust_line(
            invoice_id=invoice_id,
            line_id=line_id,
            new_amount=request.POST.get("amount", ""),
            reason=request.POST.get("reason", ""),
            user=request.user,
        ),
        "Line adjusted: the totals below include it.",
    )


@login_required
@require_POST
def entry_hold(request: HttpRequest, invoice_id: int, entry_id: int) -> HttpResponse:
    require(request, "invoices", "adjust")
    return _done(
        request,
        invoice_id,
        lambda: hold_entry(
            invoice_id=invoice_id,
            entry_id=entry_id,
            reason=request.POST.get("reason", ""),
            user=request.user,
        ),
        "Entry held: the next billing run bills it.",
    )


@login_required
@require_POST
def entry_remove(request: HttpRequest, invoice_id: int, entry_id: int) -> HttpResponse:
    require(request, "invoices", "adjust")
    return _done(
        request,
        invoice_id,
        lambda: remove_entry(
            invoice_id=invoice_id,
            entry_id=entry_id,
            reason=request.POST.get("reason", ""),
            user=request.user,
        ),
        "Entry taken off and written off.",
    )


@login_required
@require_POST
def invoice_retry_posting(request: HttpRequest, invoice_id: int) -> HttpResponse:
    """Finance's retry of a posting the ERP refused (the dead ERP call replayed, once)."""
    require(request, "invoices", "retry_posting")
    return _done(
        request,
        invoice_id,
        lambda: retry_posting(invoice_id=invoice_id, user=request.user),
        "Posting retried: the invoice is on its way to the ERP again.",
    )
