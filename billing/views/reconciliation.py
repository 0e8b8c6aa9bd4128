"""The reconciliation page for finance (``/reconciliation/``): per month and legal entity the
figures side by side (approved and rated time ↔ invoiced ↔ posted per the ERP ↔ the CRM's
statuses), each mismatch in words with a link to its exception item; "Run now" (POST) queues a
run whose progress the page follows; filters and export (docs/finance-controls/
reconciliation.md)."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse

from billing.filters import ReconciliationFilter
from billing.selectors.reconciliation import (
    get_reconciliation_run,
    latest_reconciliation_run,
    list_latest_results,
)
from billing.services.invoice_run import previous_month
from billing.services.reconciliation import request_reconciliation
from billing.views.reconciliation_rows import COLUMNS, present_row, run_counts
from config.errors import DomainError
from config.exports import export_response, requested_format
from config.policy import require
from mdm.models import LegalEntity

PAGE_SIZE = 25
TEMPLATE = "billing/reconciliation.html"


@login_required
def reconciliation(request: HttpRequest) -> HttpResponse:
    require(request, "reconciliation", "run" if request.method == "POST" else "read")
    if request.method == "POST":
        return _run_now(request)
    filterset = ReconciliationFilter(request.GET, queryset=list_latest_results())
    if fmt := requested_format(request):
        return export_response(fmt, name="reconciliation", columns=COLUMNS, rows=filterset.qs)
    page = Paginator(filterset.qs, PAGE_SIZE).get_page(request.GET.get("page"))
    params = request.GET.copy()
    params.pop("page", None)
    context = {
        "filterset": filterset,
        "page": page,
        "rows": [present_row(result) for result in page],
        "page_query": params.urlencode(),
        "entities": LegalEntity.objects.order_by("code"),
        "default_period": f"{previous_month():%Y-%m}",
        **_run_context(_shown_run(request)),
    }
    return render(request, f"{TEMPLATE}#rows" if request.htmx else TEMPLATE, context)


def _run_now(request: HttpRequest) -> HttpResponse:
    try:
        run = request_reconciliation(
            period=request.POST.get("period", ""),
            legal_entity_code=request.POST.get("legal_entity") or None,
            requested_by=request.user,
        )
    except DomainError as exc:
        messages.error(request, exc.message)
        return redirect("billing:reconciliation")
    messages.success(request, f"Reconciliation of {run.scope} queued (run #{run.pk}).")
    return redirect(f"{reverse('billing:reconciliation')}?run={run.pk}")


def _shown_run(request: HttpRequest):
    wanted = request.GET.get("run", "")
    if wanted.isdigit():
        return get_reconciliation_run(run_id=int(wanted))
    return latest_reconciliation_run()


def _run_context(run) -> dict:
    return {"run": run, "run_counts": run_counts(run) if run else []}


@login_required
def reconciliation_run(request: HttpRequest, run_id: int) -> HttpResponse:
    """A run's progress (the page polls it with htmx while the run is queued or running)."""
    require(request, "reconciliation")
    run = get_reconciliation_run(run_id=run_id)
    if run is None:
        raise Http404(f"no reconciliation run {run_id}")
    return render(request, f"{TEMPLATE}#run-status", _run_context(run))
