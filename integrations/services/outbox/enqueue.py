"""Writing an outbox message: every external effect, written with the domain change."""

from collections.abc import Callable, Iterable

from django.contrib.contenttypes.models import ContentType
from django.db import models, transaction
from django.utils import timezone

from config.errors import DomainError
from integrations.models import ExternalSystem, OutboxMessage
from integrations.models.rows import insert_if_new
from integrations.services.outbox.inline import ring_outbox_doorbell
from integrations.services.outbox.policy import retry_policy
from integrations.services.traces import current_or_new_trace_id, record_trace_step


class OutsideTransaction(DomainError):
    code = "outbox_outside_transaction"


def enqueue_outbox_message(
    *,
    system: ExternalSystem,
    kind: str,
    payload: dict,
    idempotency_key: str,
    object_key: str = "",
    local_object: models.Model | None = None,
    external_object_type: str = "",
) -> OutboxMessage:
    """Write one effect to send, in the caller's transaction; dispatch is queued on commit.

    Idempotent: the same ``idempotency_key`` returns the existing message and queues nothing.
    Raises OutsideTransaction when called outside ``transaction.atomic`` (the effect would no
    longer be tied to the domain change).
    """
    if not transaction.get_connection().in_atomic_block:
        raise OutsideTransaction(
            "enqueue_outbox_message must run inside the domain change's transaction"
        )
    now = timezone.now()
    message = OutboxMessage(
        system=system,
        kind=kind,
        payload=payload,
        idempotency_key=idempotency_key,
        object_key=object_key[:200],
        next_attempt_at=now,
        enqueued_at=now,
        max_attempts=retry_policy(kind).max_attempts,
        trace_id=current_or_new_trace_id(),
        content_type=ContentType.objects.get_for_model(local_object)
        if local_object is not None
        else None,
        object_id=str(local_object.pk) if local_object is not None else "",
        external_object_type=external_object_type,
    )
    if not insert_if_new(message):  # the unique idempotency key: this effect is already queued
        return OutboxMessage.objects.get(idempotency_key=idempotency_key)
    record_trace_step(
        kind="outbound",
        action="queued",
        summary=f"{kind} to {system.slug}",
        subject=message,
        trace_id=message.trace_id,
    )
    transaction.on_commit(lambda: ring_outbox_doorbell(message.pk))
    return message


def publish_to_subscribers(
    systems: Iterable[ExternalSystem],
    *,
    payload: dict,
    idempotency_key: Callable[[ExternalSystem], str],
    object_key: str,
) -> int:
    """Queue one ``<kind>.event.publish`` of ``payload`` to each subscribed system, in the
    caller's transaction (idempotent per the key each system gets). Returns messages queued."""
    queued = 0
    for system in systems:
        enqueue_outbox_message(
            system=system,
            kind=f"{system.kind}.event.publish",
            payload=payload,
            idempotency_key=idempotency_key(system),
            object_key=object_key,
        )
        queued += 1
    return queued
