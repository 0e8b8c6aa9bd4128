"""Reads of the runtime: querysets with their joins decided here."""

from typing import Any

from django.contrib.contenttypes.models import ContentType
from django.db.models import Count, Model, Q, QuerySet

from config import policy
from config.roles import MaybeUser
from integrations.models import (
    ApiToken,
    ExternalRef,
    ExternalSystem,
    InboundEvent,
    OutboxMessage,
    SyncRun,
    TraceStep,
)


def received_summary(event: InboundEvent) -> str:
    """The summary of an event's first trace step ("received" or "rejected")."""
    return f"{event.system.slug} {event.event_type or 'event'} {event.webhook_id}"


def list_events() -> QuerySet[InboundEvent]:
    return InboundEvent.objects.select_related("system").order_by("-received_at", "-id")


def list_events_for(*, user: MaybeUser, token: object) -> QuerySet[InboundEvent]:
    """The events a viewer may read: every system's for operations; for an integration
    client only the systems its token names (a person signed in as integration: none)."""
    events = list_events()
    if policy.allows(user, "events", "read_all"):
        return events
    if not isinstance(token, ApiToken) or not policy.allows(user, "events"):
        return events.none()
    return events.filter(system__api_tokens=token)


def list_outbox_messages() -> QuerySet[OutboxMessage]:
    return (
        OutboxMessage.objects.select_related("system")
        .prefetch_related("delivery_attempts")
        .order_by("-created_at", "-pk")
    )


def list_trace_steps(*, trace_id: str) -> list[TraceStep]:
    """The steps of one trace in time order.

    An accepted event's step "received" is not written when it arrives (one INSERT less per
    delivery): the worker stores it, dated received_at, when it first applies the event. Until
    then (or when that first attempt died with its worker) it is derived here from the event
    row, an unsaved TraceStep, so the story always starts with it."""
    steps = list(
        TraceStep.objects.filter(trace_id=trace_id)
        .select_related("content_type")
        .order_by("at", "id")
    )
    event_ct = ContentType.objects.get_for_model(InboundEvent)
    firsts = {
        step.object_id
        for step in steps
        if step.kind == "event"
        and step.action in ("received", "rejected")
        and step.content_type_id == event_ct.pk
    }
    derived = []
    for event in InboundEvent.objects.filter(trace_id=trace_id).select_related("system"):
        if str(event.pk) in firsts or event.status == InboundEvent.Status.REJECTED:
            continue
        derived.append(
            TraceStep(
                trace_id=trace_id,
                at=event.received_at,
                kind="event",
                action="received",
                summary=received_summary(event),
                content_type=event_ct,
                object_id=str(event.pk),
                detail={},
            )
        )
    return sorted(derived + steps, key=lambda step: (step.at, step.pk or 0))


def visible_trace_steps(request: Any, *, trace_id: str) -> list[TraceStep]:
    """The steps of one trace that the viewer may see: each step's subject is checked by the
    policy (config/policy.py); steps with no subject are operational detail (operations)."""
    steps = list_trace_steps(trace_id=trace_id)
    return [step for step in steps if _step_visible(request, step)]


def _step_visible(request: Any, step: TraceStep) -> bool:
    content_type = step.content_type
    if content_type is None:
        return policy.can_see_subject(request, "", None)
    label = f"{content_type.app_label}.{content_type.model}"
    return policy.can_see_subject(request, label, step.subject)


def event_visible(request: Any, event: InboundEvent) -> bool:
    """Object check of an inbound event (registered with the policy in apps.py)."""
    token = getattr(request, "auth", None)
    return list_events_for(user=request.user, token=token).filter(pk=event.pk).exists()


def outbox_message_visible(request: Any, message: OutboxMessage) -> bool:
    """An outbound call is shown to operations, and to whoever may see the record it carried
    (finance sees the call that posted its invoice)."""
    if policy.allows(request.user, "outbox"):
        return True
    content_type = message.content_type
    if content_type is None:
        return False
    label = f"{content_type.app_label}.{content_type.model}"
    return label in policy.SUBJECTS and policy.can_see_subject(request, label, message.local_object)


def list_refs_of(obj: Model) -> QuerySet[ExternalRef]:
    return ExternalRef.objects.filter(
        content_type=ContentType.objects.get_for_model(obj), object_id=str(obj.pk)
    ).select_related("system")


def list_traces_of(obj: Model) -> list[str]:
    """Trace ids that touched ``obj`` (newest first): links from a record to its stories."""
    rows = (
        TraceStep.objects.filter(
            content_type=ContentType.objects.get_for_model(obj), object_id=str(obj.pk)
        )
        .order_by("-at")
        .values_list("trace_id", flat=True)
    )
    return list(dict.fromkeys(rows))


def list_systems() -> QuerySet[ExternalSystem]:
    """Systems with their breaker, secrets and outbox counts by status (one query each)."""
    counts = {
        f"outbox_{status}": Count("outbox", filter=Q(outbox__status=status))
        for status in ("pending", "failed", "dead")
    }
    return (
        ExternalSystem.objects.select_related("breaker")
        .prefetch_related("secrets")
        .annotate(**counts)
        .order_by("slug")
    )


SYNC_KIND_LABELS = {
    "poll.invoices": "Invoice states (poll)",
    "poll.time": "Approved time (poll)",
    "poll.reference": "Reference check (poll)",
    "mdm.customers": "Customers (reference sync)",
}


def latest_sync_runs(*, per_kind: int = 1) -> list[dict]:
    """The latest run of each system's poll and sync streams, newest first, in words."""
    rows: list[dict] = []
    seen: dict[tuple[int, str], int] = {}
    for run in SyncRun.objects.select_related("system").order_by("-started_at", "-id")[:500]:
        key = (run.system_id, run.kind)
        if seen.get(key, 0) >= per_kind:
            continue
        seen[key] = seen.get(key, 0) + 1
        rows.append({"run": run, "label": SYNC_KIND_LABELS.get(run.kind, run.kind)})
    return rows
