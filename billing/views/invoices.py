"""Finance pages of invoicing: drafts list and review, approval (htmx), time, billing runs."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.db.models import Q
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from billing.filters import BillingRunFilter, InvoiceFilter, TimeEntryFilter
from billing.models import BillingRun, Invoice, TimeEntry
from billing.periods import period_from_text
from billing.selectors.invoices import (
    approval_preview,
    get_invoice_with_lines,
    invoice_terms,
    list_billing_runs,
    list_held_entries_for_invoice,
    list_invoices,
    list_time_entries_with_billing,
    posting_problem,
)
from billing.services.approvals import SecondApprovalRequired
from billing.services.invoice_posting import approve_invoice, approve_invoices
from billing.services.invoice_run import previous_month, start_billing_run
from billing.views.exports import BILLING_RUN_COLUMNS, INVOICE_COLUMNS, TIME_ENTRY_COLUMNS
from config.errors import DomainError
from config.exports import export_response, requested_format
from config.policy import allows, require
from exceptions_queue.models import ExceptionItem
from exceptions_queue.selectors import can_see_queue
from mdm.models import LegalEntity

PAGE_SIZE = 25


def _page(request: HttpRequest, queryset):
    return Paginator(queryset, PAGE_SIZE).get_page(request.GET.get("page"))


def _query_without_page(request: HttpRequest) -> str:
    params = request.GET.copy()
    params.pop("page", None)
    return params.urlencode()


@login_required
def invoice_list(request: HttpRequest) -> HttpResponse:
    require(request, "invoices")
    params = request.GET.copy()
    if not any(name in params for name in InvoiceFilter.base_filters):
        params["status"] = Invoice.Status.DRAFT  # the work list; any filter (a link) widens it
    filterset = InvoiceFilter(params, queryset=list_invoices())
    if fmt := requested_format(request):
        return export_response(fmt, name="invoices", columns=INVOICE_COLUMNS, rows=filterset.qs)
    context = {
        "filterset": filterset,
        "status": params.get("status"),
        "statuses": Invoice.Status.choices,
        "entities": LegalEntity.objects.order_by("code"),
        "page": _page(request, filterset.qs),
        "page_query": _query_without_page(request),
    }
    template = "billing/invoice_list.html"
    return render(request, f"{template}#invoice-table" if request.htmx else template, context)


def _held_with_items(invoice: Invoice) -> list[dict]:
    held = list(list_held_entries_for_invoice(invoice=invoice)[:200])
    keys = Q()
    for entry in held:
        keys |= Q(type_code=entry.hold_reason, subject_key=entry.hold_key)
    items = {}
    if held:
        open_items = ExceptionItem.objects.filter(keys, status__in=ExceptionItem.OPEN_STATUSES)
        items = {(i.type_code, i.subject_key): i for i in open_items}
    return [{"entry": e, "item": items.get((e.hold_reason, e.hold_key))} for e in held]


def _detail_context(request: HttpRequest, invoice_id: int) -> dict:
    try:
        invoice = get_invoice_with_lines(invoice_id=invoice_id)
    except Invoice.DoesNotExist as exc:
        raise Http404(f"no invoice {invoice_id}") from exc
    problem = posting_problem(invoice)
    if problem and problem["item"] is not None:
        problem["item_visible"] = can_see_queue(user=request.user, queue=problem["item"].queue)
    lines = list(invoice.lines.all())
    return {
        "invoice": invoice,
        "lines": lines,
        "terms": invoice_terms(invoice, lines),
        "held": _held_with_items(invoice),
        "problem": problem,
        "can_retry": allows(request.user, "invoices", "retry_posting"),
        "can_adjust": invoice.status == Invoice.Status.DRAFT
        and allows(request.user, "invoices", "adjust"),
    }


@login_required
def invoice_detail(request: HttpRequest, invoice_id: int) -> HttpResponse:
    """The invoice; while it is on its way to the ERP its status block refreshes itself."""
    require(request, "invoices")
    context = _detail_context(request, invoice_id)
    template = "billing/invoice_detail.html"
    return render(request, f"{template}#invoice-status" if request.htmx else template, context)


@login_required
@require_POST
def invoice_approve(request: HttpRequest, invoice_id: int) -> HttpResponse:
    require(request, "invoices", "approve")
    try:
        approve_invoice(invoice_id=invoice_id, approved_by=request.user)
    except SecondApprovalRequired as exc:
        messages.warning(request, exc.message)
    except DomainError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, f"Invoice {invoice_id} approved and queued to the ERP.")
    if request.htmx:
        context = _detail_context(request, invoice_id)
        return render(request, "billing/invoice_detail.html#invoice-status", context)
    return redirect("billing:invoice_detail", invoice_id=invoice_id)


def _chosen_ids(values: list[str]) -> list[int]:
    return sorted({int(value) for value in values if value.isdigit() and len(value) < 12})


@login_required
def invoice_approve_confirm(request: HttpRequest) -> HttpResponse:
    """Before anything goes to the ERP: the invoices chosen (one from its page, several from
    the list), how many, and their totals per currency; the button posts them."""
    require(request, "invoices", "approve")
    preview = approval_preview(invoice_ids=_chosen_ids(request.GET.getlist("invoice")))
    back = request.GET.get("next") or ""
    context = {**preview, "next": back if back.startswith("/") else ""}
    return render(request, "billing/invoice_approve_confirm.html", context)


@login_required
@require_POST
def invoice_bulk_approve(request: HttpRequest) -> HttpResponse:
    require(request, "invoices", "approve")
    ids = _chosen_ids(request.POST.getlist("invoice"))
    done, errors = approve_invoices(invoice_ids=ids, approved_by=request.user)
    if done:
        messages.success(request, f"{done} invoice{'s' if done != 1 else ''} approved.")
    for error in errors:
        messages.error(request, error)
    target = request.POST.get("next") or ""
    return redirect(target if target.startswith("/") else "billing:invoice_list")


@login_required
def time_entry_list(request: HttpRequest) -> HttpResponse:
    require(request, "time_entries")
    filterset = TimeEntryFilter(request.GET, queryset=list_time_entries_with_billing())
    if fmt := requested_format(request):
        return export_response(fmt, name="time", columns=TIME_ENTRY_COLUMNS, rows=filterset.qs)
    context = {
        "filterset": filterset,
        "statuses": TimeEntry.Status.choices,
        "page": _page(request, filterset.qs),
        "page_query": _query_without_page(request),
    }
    template = "billing/time_entry_list.html"
    return render(request, f"{template}#time-table" if request.htmx else template, context)


@login_required
def billing_run_list(request: HttpRequest) -> HttpResponse:
    require(request, "billing_runs", "start" if request.method == "POST" else "read")
    if request.method == "POST":
        try:
            run = start_billing_run(
                period=period_from_text(request.POST.get("period", "")),
                legal_entity_code=request.POST.get("legal_entity") or None,
                customer_id=None,
                requested_by=request.user,
            )
        except (ValueError, DomainError) as exc:
            messages.error(request, str(exc))
            return redirect("billing:billing_run_list")
        return redirect("billing:billing_run_detail", run_id=run.pk)
    filterset = BillingRunFilter(request.GET, queryset=list_billing_runs())
    if fmt := requested_format(request):
        return export_response(
            fmt, name="billing-runs", columns=BILLING_RUN_COLUMNS, rows=filterset.qs
        )
    context = {
        "filterset": filterset,
        "statuses": BillingRun.Status.choices,
        "page": _page(request, filterset.qs),
        "default_period": f"{previous_month():%Y-%m}",
        "entities": LegalEntity.objects.order_by("code"),
        "page_query": _query_without_page(request),
    }
    return render(request, "billing/billing_run_list.html", context)


# What a billing run's counts mean, for the person reading its page.
RUN_COUNT_LABELS = {
    "released_from_hold": "held entries released by the re-check",
    "entries_swept": "retracted entries taken off drafts",
    "drafts_opened": "drafts opened",
    "entities_closed": "legal entities left out (their month is closed)",
    "late_entries_added": "late time of closed months, moved into this one, added",
    "entries_added": "time entries added to lines",
    "retainer_entries": "entries counted against retainers",
    "milestones": "milestones billed",
    "drafts": "drafts of the month",
    "lines": "lines",
    "held_entries": "entries still held",
}


@login_required
def billing_run_detail(request: HttpRequest, run_id: int) -> HttpResponse:
    require(request, "billing_runs")
    run = list_billing_runs().filter(pk=run_id).first()
    if run is None:
        raise Http404(f"no billing run {run_id}")
    context = {
        "run": run,
        "is_active": run.status in (BillingRun.Status.QUEUED, BillingRun.Status.RUNNING),
        "counts": [
            (RUN_COUNT_LABELS.get(key, key.replace("_", " ")), value)
            for key, value in (run.counts or {}).items()
        ],
    }
    template = "billing/billing_run_detail.html"
    return render(request, f"{template}#run-progress" if request.htmx else template, context)
