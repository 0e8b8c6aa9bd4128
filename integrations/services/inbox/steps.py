"""The trace steps of an inbound event."""

from integrations.models import InboundEvent, TraceStep
from integrations.selectors import received_summary
from integrations.services.traces import build_trace_step, record_trace_steps


def build_received_step(event: InboundEvent) -> TraceStep | None:
    """The step "received" of an accepted event, dated received_at (unsaved: its worker writes
    it with the first outcome, see record_event_step)."""
    return build_trace_step(
        kind="event",
        action="received",
        summary=received_summary(event),
        subject=event,
        trace_id=event.trace_id,
        at=event.received_at,
    )


def record_event_step(event: InboundEvent, *, action: str, summary: str) -> None:
    """Record one trace step of ``event`` (its subject). On the event's first attempt (marked
    ``_received_step_pending`` by process_inbound_event) the step "received", not written on
    receive, goes in the same INSERT, dated received_at."""
    step = build_trace_step(kind="event", action=action, summary=summary, subject=event)
    if getattr(event, "_received_step_pending", False):
        event._received_step_pending = False
        record_trace_steps([build_received_step(event), step])
    else:
        record_trace_steps([step])
