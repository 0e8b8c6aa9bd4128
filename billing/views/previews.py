"""Previews for finance (docs/finance-controls/previews.md): a billing run as it would go,
written nowhere (billing/services/invoice_run/preview.py); a project's time re-rated under its
contract's current terms, previewed, then done (billing/services/amendments.py)."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from billing.models import Project
from billing.periods import period_from_text
from billing.services.amendments import rerate_preview, rerate_project
from billing.services.approvals import SecondApprovalRequired
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


@login_required
@require_POST
def project_rerate_preview(request: HttpRequest, project_id: int) -> HttpResponse:
    """What re-rating the project under its contract's current terms would change."""
    require(request, "projects", "rerate")
    project = get_object_or_404(Project.objects.select_related("contract"), pk=project_id)
    preview = rerate_preview(project=project)
    return render(request, "billing/project_rerate.html", {"project": project, "preview": preview})


@login_required
@require_POST
def project_rerate(request: HttpRequest, project_id: int) -> HttpResponse:
    require(request, "projects", "rerate")
    project = get_object_or_404(Project.objects.select_related("contract"), pk=project_id)
    try:
        done = rerate_project(project=project, user=request.user)
    except SecondApprovalRequired as exc:
        messages.warning(request, exc.message)
    except DomainError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(
            request,
            f"{done.entries} entries re-rated: {done.credited} credited and re-billed this month, "
            f"{done.moved_off_drafts} taken off drafts (their month's next run bills them again).",
        )
    return redirect("billing:project_detail", project_id=project.pk)
