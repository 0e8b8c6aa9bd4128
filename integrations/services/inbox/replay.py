"""Replaying an inbound event: put it back to be applied again (after a fix)."""

import json

from django.db import transaction
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from integrations.connectors.schemas import OBJECT_KEYS
from integrations.models import InboundEvent
from integrations.services import dispatch
from integrations.services.inbox.receive import parse_delivery
from integrations.services.traces import record_trace_step, use_trace


def replay_event(*, event_id: int) -> InboundEvent:
    """Put an event back to be applied again (after a fix). Keeps its history in the trace.

    A rejected event is parsed and validated again from what was received.
    """
    with transaction.atomic():
        event = InboundEvent.objects.select_for_update().get(pk=event_id)
        if event.status == InboundEvent.Status.REJECTED and event.payload is not None:
            body = json.dumps(event.payload).encode()
            _payload, status_code, reason, errors = parse_delivery(body)
            if status_code:
                event.error, event.error_details = reason, errors
                event.save(update_fields=["error", "error_details"])
                with use_trace(event.trace_id):
                    record_trace_step(
                        kind="event", action="replay_refused", summary=reason, subject=event
                    )
                return event
            event.occurred_at = parse_datetime(event.payload["timestamp"])
            event.object_key = OBJECT_KEYS[event.event_type](event.payload["data"])[:200]
        event.status, event.attempts, event.error, event.error_details = (
            InboundEvent.Status.RECEIVED,
            0,
            "",
            {},
        )
        event.next_attempt_at, event.enqueued_at = None, timezone.now()
        event.replay_count += 1
        event.save()
        with use_trace(event.trace_id):
            record_trace_step(
                kind="event",
                action="replayed",
                summary=f"replay #{event.replay_count}",
                subject=event,
            )
        transaction.on_commit(lambda: dispatch.publish_inbound_event(event.pk))
    return event
