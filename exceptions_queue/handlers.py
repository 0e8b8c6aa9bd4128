"""The runtime's hooks (registered in ExceptionsQueueConfig.ready through integrations'
registries): a dead letter, a rejected event or a delivery after a replay raises or resolves
the runtime's exception items (exception_types.py)."""

from exceptions_queue.exception_types import (
    DELIVERY_FAILED,
    EVENT_FAILED,
    EVENT_REJECTED,
    event_subject_key,
    outbox_subject_key,
)
from exceptions_queue.services import raise_exception_item, resolve_items_automatically
from exceptions_queue.services.notifications import is_own_publish
from integrations.models import InboundEvent, OutboxMessage
from integrations.registry import OutboxSubject, outbox_describers


def on_dead_letter(obj) -> None:
    """dead_letter_hooks: an outbox message or an inbound event went dead."""
    if isinstance(obj, OutboxMessage):
        record = _business_record(obj)
        raise_exception_item(
            type_code=DELIVERY_FAILED,
            subject_key=outbox_subject_key(obj.pk),
            subject_ref=_message_ref(obj, record),
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
                **({"record": record.ref, "record_url": record.url} if record else {}),
            },
            amount=record.amount if record else None,
            currency=record.currency if record else "",
            publish=not is_own_publish(obj.idempotency_key),
        )
    elif isinstance(obj, InboundEvent):
        raise_exception_item(
            type_code=EVENT_FAILED,
            subject_key=event_subject_key(obj.pk),
            subject_ref=_event_ref(obj),
            subject=obj,
            trace_id=obj.trace_id,
            summary=f"{obj.event_type} could not be applied: {obj.error}",
            details=_event_details(obj),
        )


def _business_record(message: OutboxMessage) -> OutboxSubject | None:
    """What the message carries, named by the app that sent it (None when no app says)."""
    describe = outbox_describers.get(message.kind)
    return describe(message) if describe is not None else None


def _message_ref(message: OutboxMessage, record: OutboxSubject | None) -> str:
    where = f"to {message.system.name or message.system.slug}"
    if record is not None:
        return f"{record.ref} · {where}"[:200]
    return f"{message.kind} → {message.system.slug} · {str(message.pk)[:8]}"


def on_rejected(event: InboundEvent) -> None:
    """rejection_hooks: a signed event failed its format or schema."""
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
