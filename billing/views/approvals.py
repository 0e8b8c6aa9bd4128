"""The approvals queue for finance (``/approvals/``): money-moving actions waiting for a second
person (billing/services/approvals.py). Approving runs the action; the requester's own
requests show who asked and cannot be decided by them."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from billing.models import ApprovalRequest
from billing.selectors.approvals import decided_requests, pending_requests
from billing.services.approval_actions import decide
from config.errors import DomainError
from config.policy import require


@login_required
def approval_list(request: HttpRequest) -> HttpResponse:
    require(request, "approvals", "read")
    context = {"pending": pending_requests(), "decided": decided_requests()}
    return render(request, "billing/approvals.html", context)


@login_required
@require_POST
def approval_decide(request: HttpRequest, request_id: int) -> HttpResponse:
    require(request, "approvals", "decide")
    approve = request.POST.get("decision") == "approve"
    try:
        decided = decide(
            request_id=request_id,
            user=request.user,
            approve=approve,
            note=request.POST.get("note", ""),
        )
    except DomainError as exc:
        messages.error(request, exc.message)
    else:
        words = {
            ApprovalRequest.Status.APPROVED: ("success", "Approved and done"),
            ApprovalRequest.Status.REJECTED: ("success", "Rejected"),
            ApprovalRequest.Status.FAILED: ("error", "Approved, but refused when done"),
        }[decided.status]
        getattr(messages, words[0])(request, f"Request #{decided.pk}: {words[1]}: {decided.result}")
    return redirect("billing:approval_list")
