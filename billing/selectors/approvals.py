"""The approvals queue: requests waiting for a second person, and those decided lately."""

from django.db.models import QuerySet

from billing.models import ApprovalRequest

RECENT = 30


def pending_requests() -> QuerySet[ApprovalRequest]:
    return (
        ApprovalRequest.objects.filter(status=ApprovalRequest.Status.PENDING)
        .select_related("requested_by")
        .order_by("requested_at")
    )


def decided_requests(limit: int = RECENT) -> QuerySet[ApprovalRequest]:
    return (
        ApprovalRequest.objects.exclude(status=ApprovalRequest.Status.PENDING)
        .select_related("requested_by", "decided_by")
        .order_by("-decided_at")[:limit]
    )


def list_requests(status: str | None = None) -> QuerySet[ApprovalRequest]:
    requests = ApprovalRequest.objects.select_related("requested_by", "decided_by")
    return requests.filter(status=status) if status else requests
