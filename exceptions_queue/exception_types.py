"""The runtime's own exception types (the hooks that raise and resolve them: handlers.py).

| type | queue | raised when | subject key |
|---|---|---|---|
| ``delivery_failed`` | operations | an outbox message was dead-lettered | ``outbox:<uuid>`` |
| ``event_rejected`` | operations | a signed event failed its format or schema | ``event:<pk>`` |
| ``event_failed`` | operations | an accepted event's handler failed on every attempt | ``event:<pk>`` |
"""

import uuid

from django.utils.translation import gettext_lazy as _

from exceptions_queue.errors import ActionRefused
from exceptions_queue.registry import ExceptionType, ResolutionAction
from integrations.models import InboundEvent, OutboxMessage

DELIVERY_FAILED, EVENT_REJECTED, EVENT_FAILED = "delivery_failed", "event_rejected", "event_failed"


def outbox_subject_key(message_id) -> str:
    return f"outbox:{message_id}"


def event_subject_key(event_id) -> str:
    return f"event:{event_id}"


def _subject_id(item) -> str:
    return item.subject_key.split(":", 1)[1]


def lock_message(item) -> None:
    try:
        message_id = uuid.UUID(_subject_id(item))
    except ValueError:
        return  # not a message's key: nothing to lock
    OutboxMessage.objects.select_for_update().filter(pk=message_id).first()


def lock_event(item) -> None:
    event_id = _subject_id(item)
    if event_id.isascii() and event_id.isdigit():
        InboundEvent.objects.select_for_update().filter(pk=int(event_id)).first()


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


def _delivery_failed() -> ExceptionType:
    return ExceptionType(
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
        lock_subject=lock_message,
        actions=(
            ResolutionAction(
                name="replay",
                label="Replay the message",
                handler=replay_message_action,
                resolves=False,
            ),
        ),
    )


def runtime_types() -> list[ExceptionType]:
    replay_event_button = ResolutionAction(
        name="replay", label="Replay the event", handler=replay_event_action
    )
    return [
        _delivery_failed(),
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
            lock_subject=lock_event,
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
            lock_subject=lock_event,
            actions=(replay_event_button,),
        ),
    ]
