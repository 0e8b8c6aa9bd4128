"""Replaying an inbound event: put it back to be applied again (after a fix).

``mapping``: ``"received"`` (the default) applies what was stored at receipt; ``"current"``
translates the evidence again with the mapping as it is now (a Salesforce Outbound Message
notification whose field mapping was fixed since: integrations/services/inbox/
outbound_messages.py ``retranslated``). ``replay_preview`` shows both before anyone confirms.
"""

import json

from django.db import transaction
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from config.diffs import differences
from integrations.connectors.schemas import OBJECT_KEYS
from integrations.models import InboundEvent
from integrations.services import dispatch
from integrations.services.inbox.outbound_messages import retranslated
from integrations.services.inbox.receive import parse_delivery
from integrations.services.traces import record_trace_step, use_trace

RECEIVED, CURRENT = "received", "current"
MAPPINGS = (RECEIVED, CURRENT)


def replay_preview(*, event_id: int) -> dict:
    """The payload as received and as the mapping now makes it (None, with the reason, when
    it cannot be translated again), and whether they differ."""
    event = InboundEvent.objects.select_related("system").get(pk=event_id)
    current, why = retranslated(event)
    return {
        "received": event.payload,
        "current": current,
        "current_unavailable": why,
        "differs": current is not None and current != event.payload,
        "differences": differences(event.payload, current) if current is not None else [],
    }


def _refuse(event: InboundEvent, reason: str, errors: dict | None = None) -> InboundEvent:
    event.error, event.error_details = reason, errors or {}
    event.save(update_fields=["error", "error_details"])
    with use_trace(event.trace_id):
        record_trace_step(kind="event", action="replay_refused", summary=reason, subject=event)
    return event


def replay_event(*, event_id: int, mapping: str = RECEIVED) -> InboundEvent:
    """Put an event back to be applied again (after a fix). Keeps its history in the trace.

    A rejected event is parsed and validated again from what was received; with ``mapping``
    "current", from its evidence translated again (refused, with the reason, when it means no
    event or does not match the schema: nothing changes then).
    """
    with transaction.atomic():
        event = InboundEvent.objects.select_for_update().select_related("system").get(pk=event_id)
        payload, check = event.payload, event.status == InboundEvent.Status.REJECTED
        if mapping == CURRENT:
            payload, why = retranslated(event)
            if payload is None:
                return _refuse(event, f"cannot translate it again: {why}")
            check = True
        if check and payload is not None:
            _payload, status_code, reason, errors = parse_delivery(json.dumps(payload).encode())
            if status_code:
                return _refuse(event, reason, errors)
            event.payload, event.event_type = payload, payload["type"]
            event.occurred_at = parse_datetime(payload["timestamp"])
            event.object_key = OBJECT_KEYS[event.event_type](payload["data"])[:200]
        _back_to_received(event, mapping)
    return event


def _back_to_received(event: InboundEvent, mapping: str) -> None:
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
            summary=f"replay #{event.replay_count}"
            + (" with the mapping as it is now" if mapping == CURRENT else ""),
            subject=event,
        )
    transaction.on_commit(lambda: dispatch.publish_inbound_event(event.pk))
