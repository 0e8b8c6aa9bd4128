from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import NoReverseMatch, reverse

from config.exports import DATETIME, NUMBER, Column, export_response, requested_format
from config.policy import require
from integrations import selectors
from integrations.filters import InboundEventFilter, OutboxMessageFilter
from integrations.models import InboundEvent, RejectedDelivery
from integrations.panels import integration_health
from integrations.registry import event_links
from integrations.services.inbox import replay_event
from integrations.services.inbox.replay import CURRENT as IN_CURRENT
from integrations.services.inbox.replay import MAPPINGS, RECEIVED, replay_preview
from integrations.services.outbox.replay import (
    CURRENT,
    SENT,
    ReplayRefused,
    outbox_replay_preview,
    replay_outbox_message,
)


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


def _replay_page(
    request: HttpRequest, *, title: str, subject, preview: dict, choices
) -> HttpResponse:
    rows = preview.get("differences") or []
    context = {"title": title, "subject": subject, "preview": preview, "rows": rows,
               "choices": choices}  # fmt: skip
    return render(request, "integrations/replay.html", context)


@login_required
def outbox_replay(request: HttpRequest, message_id) -> HttpResponse:
    """A dead or failed message: what a replay would send, as sent and as built now (the
    differences), and the choice (docs/finance-controls/replay.md)."""
    require(request, "outbox", "replay" if request.method == "POST" else "read")
    message = selectors.list_outbox_messages().filter(pk=message_id).first()
    if message is None:
        raise Http404("no such message")
    if request.method == "POST":
        try:
            replay_outbox_message(
                message_id=message.pk, mapping=request.POST.get("mapping", SENT), user=request.user
            )
        except ReplayRefused as exc:
            messages.error(request, exc.message)
        else:
            messages.success(request, f"{message.kind} to {message.system.slug} queued again.")
            return redirect(f"{reverse('integrations:operations')}?tab=outbox")
    preview = outbox_replay_preview(message_id=message.pk)
    choices = [(SENT, "Replay as sent"), (CURRENT, "Replay built again now")]
    return _replay_page(
        request, title=f"Replay {message.kind}", subject=message, preview=preview, choices=choices
    )


@login_required
def event_replay(request: HttpRequest, event_id: int) -> HttpResponse:
    """An inbound event: what a replay would apply, as received and as translated now."""
    require(request, "events", "replay" if request.method == "POST" else "read")
    event = selectors.list_events_for(user=request.user, token=None).filter(pk=event_id).first()
    if event is None:
        raise Http404("no such event")
    if request.method == "POST":
        mapping = request.POST.get("mapping", RECEIVED)
        replayed = replay_event(
            event_id=event.pk, mapping=mapping if mapping in MAPPINGS else RECEIVED
        )
        if replayed.status == InboundEvent.Status.RECEIVED:
            messages.success(request, f"Event {event.pk} queued again.")
            return redirect(f"{reverse('integrations:operations')}?tab=events")
        messages.error(request, f"Not replayed: {replayed.error}")
    preview = replay_preview(event_id=event.pk)
    choices = [
        (RECEIVED, "Replay as received"),
        (IN_CURRENT, "Replay with the mapping as it is now"),
    ]
    return _replay_page(
        request, title=f"Replay event {event.pk}", subject=event, preview=preview, choices=choices
    )
