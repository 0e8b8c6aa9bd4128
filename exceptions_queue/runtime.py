"""The runtime's own exception types and the hooks that raise and resolve them.

| type | queue | raised when | subject key |
|---|---|---|---|
| ``delivery_failed`` | operations | an outbox message was dead-lettered | ``outbox:<uuid>`` |
| ``event_rejected`` | operations | a signed event failed its format or schema | ``event:<pk>`` |
| ``event_failed`` | operations | an accepted event's handler failed on every attempt | ``event:<pk>`` |
"""

import uuid

from django.utils.translation import gettext_lazy as _

from exceptions_queue.exceptions import ActionRefused
from exceptions_queue.registry import ExceptionType, ResolutionAction
from integrations.models import InboundEvent, OutboxMessage

DELIVERY_FAILED, EVENT_REJECTED, EVENT_FAILED = "delivery_failed", "event_rejected", "event_failed"


def outbox_subject_key(message_id) -> str:
    return f"outbox:{message_id}"


def event_subject_key(event_id) -> str:
    return f"event:{event_id}"


def _subject_id(item) -> str:
    return item.subject_key.split(":", 1)[1]


def replay_message_action(item, *, user, data: dict) -> str:
    """Put the dead message back to be sent; the item resolves when it is delivered."""
    from integrations.services.outbox import replay_outbox_message

    message = replay_outbox_message(message_id=uuid.UUID(_subject_id(item)))
    if message.status == OutboxMessage.Status.SENT:
        return "Already delivered: nothing to send again."
    return f"Replay #{message.replay_count} queued; this item resolves when it is delivered."


def replay_event_action(item, *, user, data: dict) -> str:
    """Validate and apply the event again; a still-invalid event refuses the replay."""
    from integrations.services.inbox import replay_event

    event = replay_event(event_id=int(_subject_id(item)))
    if event.status == InboundEvent.Status.REJECTED:
        raise ActionRefused(f"Still rejected: {event.error}", errors=event.error_details)
    return f"Queued for processing again (replay #{event.replay_count})."


def runtime_types() -> list[ExceptionType]:
    replay_event_button = ResolutionAction(
        name="replay", label="Replay the event", handler=replay_event_action
    )
    return [
        ExceptionType(
            code=DELIVERY_FAILED,
            queue="operations",
            severity="high",
            title=str(_("Delivery failed")),
            help_text=str(
                _(
                    "Throughline could not deliver a change to an external system and stopped "
                    "retrying. The system refused it or kept failing. Read the last error, fix "
                    "the cause (the data, the mapping, the system's settings or credentials), "
                    "then replay: the item closes by itself once the message is delivered."
                )
            ),
            sla_hours=4,
            actions=(
                ResolutionAction(
                    name="replay",
                    label="Replay the message",
                    handler=replay_message_action,
                    resolves=False,
                ),
            ),
        ),
        ExceptionType(
            code=EVENT_REJECTED,
            queue="operations",
            severity="medium",
            title=str(_("Event rejected")),
            help_text=str(
                _(
                    "A system sent a correctly signed event whose content Throughline could not "
                    "read: not JSON, no or an unknown type, or fields that fail the schema. "
                    "Nothing was applied. Ask the sender to fix and resend, or replay it after "
                    "Throughline learns the format."
                )
            ),
            sla_hours=24,
            actions=(replay_event_button,),
        ),
        ExceptionType(
            code=EVENT_FAILED,
            queue="operations",
            severity="high",
            title=str(_("Event processing failed")),
            help_text=str(
                _(
                    "An accepted event could not be applied: its handler failed on every "
                    "attempt, so the change it carries is missing here. Read the error, fix the "
                    "cause, then replay the event."
                )
            ),
            sla_hours=8,
            actions=(replay_event_button,),
        ),
    ]


def on_dead_letter(obj) -> None:
    """dead_letter_hooks: an outbox message or an inbound event went dead."""
    from exceptions_queue.notifications import is_own_publish
    from exceptions_queue.services import _raise

    if isinstance(obj, OutboxMessage):
        _raise(
            type_code=DELIVERY_FAILED,
            subject_key=outbox_subject_key(obj.pk),
            subject_ref=f"{obj.kind} → {obj.system.slug} · {str(obj.pk)[:8]}",
            subject=obj,
            trace_id=obj.trace_id,
            summary=obj.last_error or f"{obj.kind} to {obj.system.slug} failed",
            details={
                "system": obj.system.slug,
                "kind": obj.kind,
                "object_key": obj.object_key,
                "attempts": obj.attempts,
                "replays": obj.replay_count,
                "error_class": obj.error_class,
                "last_error": obj.last_error,
                "idempotency_key": obj.idempotency_key,
                "payload": obj.payload,
            },
            member_key="",
            amount=None,
            currency="",
            hours=None,
            publish=not is_own_publish(obj.idempotency_key),
        )
    elif isinstance(obj, InboundEvent):
        _raise(
            type_code=EVENT_FAILED,
            subject_key=event_subject_key(obj.pk),
            subject_ref=_event_ref(obj),
            subject=obj,
            trace_id=obj.trace_id,
            summary=f"{obj.event_type} could not be applied: {obj.error}",
            details=_event_details(obj),
            member_key="",
            amount=None,
            currency="",
            hours=None,
            publish=True,
        )


def on_rejected(event: InboundEvent) -> None:
    """rejection_hooks: a signed event failed its format or schema."""
    from exceptions_queue.services import raise_exception_item

    raise_exception_item(
        type_code=EVENT_REJECTED,
        subject_key=event_subject_key(event.pk),
        subject_ref=_event_ref(event),
        subject=event,
        trace_id=event.trace_id,
        summary=event.error or "rejected",
        details=_event_details(event),
    )


def on_delivered(message: OutboxMessage) -> None:
    """delivery_hooks: a message was delivered, so its delivery_failed item is done."""
    from exceptions_queue.services import resolve_items_automatically

    if not message.replay_count:
        # Only a dead message has an item, and a dead message is sent again only by a replay:
        # a message never replayed has nothing to resolve (one query saved per delivery).
        return

    resolve_items_automatically(
        type_code=DELIVERY_FAILED,
        subject_key=outbox_subject_key(message.pk),
        note=f"Delivered to {message.system.slug}"
        + (f" as {message.external_id}" if message.external_id else "")
        + f" after replay #{message.replay_count}.",
    )


def _event_ref(event: InboundEvent) -> str:
    return f"{event.system.slug} {event.event_type or 'event'} {event.webhook_id}"


def _event_details(event: InboundEvent) -> dict:
    details = {
        "system": event.system.slug,
        "webhook_id": event.webhook_id,
        "event_type": event.event_type,
        "status": event.status,
        "error": event.error,
        "attempts": event.attempts,
        "errors": event.error_details or {},
    }
    if event.payload is not None:
        details["payload"] = event.payload
    else:
        details["raw_body"] = event.raw_body
    return details
