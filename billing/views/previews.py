"""Previews for finance (docs/finance-controls/previews.md): a billing run as it would go,
written nowhere (billing/services/invoice_run/preview.py)."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from billing.periods import period_from_text
from billing.services.invoice_run.preview import preview_billing_run
from config.errors import DomainError
from config.policy import require


@login_required
@require_POST
def billing_run_preview(request: HttpRequest) -> HttpResponse:
    require(request, "billing_runs", "read")
    try:
        period = period_from_text(request.POST.get("period", ""))
    except ValueError:
        messages.error(request, f"{request.POST.get('period', '')!r} is not YYYY-MM")
        return redirect("billing:billing_run_list")
    try:
        preview = preview_billing_run(
            period=period,
            legal_entity_code=request.POST.get("legal_entity") or None,
            customer_id=None,
            user=request.user,
        )
    except DomainError as exc:
        messages.error(request, exc.message)
        return redirect("billing:billing_run_list")
    context = {
        "preview": preview,
        "legal_entity": request.POST.get("legal_entity") or "",
        "new_drafts": sum(1 for d in preview.drafts if d.invoice_id is None),
    }
    return render(request, "billing/billing_run_preview.html", context)
