from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import NoReverseMatch, reverse

from config.exports import DATETIME, NUMBER, Column, export_response, requested_format
from config.policy import require
from integrations import selectors
from integrations.filters import InboundEventFilter, OutboxMessageFilter
from integrations.models import InboundEvent, RejectedDelivery
from integrations.panels import integration_health
from integrations.registry import event_links


def _subject_link(step, user) -> str:
    """The page of the record a step touched: its own page if it has one, else its admin page."""
    subject = step.subject if step.content_type_id else None
    if subject is None:
        return ""
    if hasattr(subject, "get_absolute_url"):
        return subject.get_absolute_url()
    if user.is_staff:
        try:
            return reverse(
                f"admin:{step.content_type.app_label}_{step.content_type.model}_change",
                args=[step.object_id],
            )
        except NoReverseMatch:
            return ""
    return ""


def event_links_for(request: HttpRequest, event) -> list[tuple[str, str]]:
    """The pages higher apps offer about ``event`` (``integrations.registry.event_links``)."""
    found = (describe(request, event) for describe in event_links.values())
    return [link for link in found if link is not None]


@login_required
def trace_detail(request: HttpRequest, trace_id: str) -> HttpResponse:
    """One trace as a timeline: event in, records written, calls out, exceptions raised."""
    require(request, "traces")
    steps = selectors.visible_trace_steps(request, trace_id=trace_id)
    if not steps:
        raise Http404("no such trace")
    started = steps[0].at
    rows = [
        {
            "step": step,
            "offset_ms": int((step.at - started).total_seconds() * 1000),
            "link": _subject_link(step, request.user),
            "event_links": event_links_for(request, step.subject)
            if step.kind == "event" and isinstance(step.subject, InboundEvent)
            else [],
        }
        for step in steps
    ]
    counts = {
        kind: sum(1 for s in steps if s.kind == kind)
        for kind in ("event", "record", "outbound", "exception")
    }
    return render(
        request,
        "integrations/trace_detail.html",
        {
            "trace_id": trace_id,
            "rows": rows,
            "counts": counts,
            "duration_ms": rows[-1]["offset_ms"],
        },
    )


# The operations page's tabs as files (config/exports.py): the rows each tab shows.
OUTBOX_COLUMNS = [
    Column("Created", "created_at", DATETIME),
    Column("System", "system.slug"),
    Column("Kind", "kind"),
    Column("Status", "get_status_display"),
    Column("Attempts", "attempts", NUMBER),
    Column("Max attempts", "max_attempts", NUMBER),
    Column("Next attempt", "next_attempt_at", DATETIME),
    Column("Last error", "last_error"),
    Column("External id", "external_id"),
    Column("Trace", "trace_id"),
]
EVENT_COLUMNS = [
    Column("Received", "received_at", DATETIME),
    Column("System", "system.slug"),
    Column("Type", "event_type"),
    Column("Status", "get_status_display"),
    Column("Attempts", "attempts", NUMBER),
    Column("Error", "error"),
    Column("Webhook id", "webhook_id"),
    Column("Trace", "trace_id"),
]


@login_required
def operations(request: HttpRequest) -> HttpResponse:
    """Systems and breakers, the outbox and inbox backlog, recent refusals."""
    require(request, "operations")
    tab = request.GET.get("tab", "outbox")
    if tab == "events":
        filterset = InboundEventFilter(request.GET, queryset=selectors.list_events())
    else:
        tab = "outbox"
        filterset = OutboxMessageFilter(request.GET, queryset=selectors.list_outbox_messages())
    if fmt := requested_format(request):
        columns = EVENT_COLUMNS if tab == "events" else OUTBOX_COLUMNS
        return export_response(fmt, name=f"operations-{tab}", columns=columns, rows=filterset.qs)
    page = Paginator(filterset.qs, 25).get_page(request.GET.get("page"))
    if tab == "events":
        for event in page.object_list:
            event.links = event_links_for(request, event)
    query = request.GET.copy()
    query.pop("page", None)
    return render(
        request,
        "integrations/operations.html",
        {
            "health": integration_health(),
            "tab": tab,
            "filter": filterset,
            "page": page,
            "query": query.urlencode(),
            "rejected": RejectedDelivery.objects.order_by("-received_at")[:10],
            "sync_runs": selectors.latest_sync_runs(),
        },
    )
