"""Replaying an outbox message: send a dead (or failed) message again."""

import uuid

from django.db import transaction
from django.utils import timezone

from integrations.models import OutboxMessage
from integrations.services import dispatch
from integrations.services.traces import record_trace_step, use_trace


def replay_outbox_message(*, message_id: uuid.UUID) -> OutboxMessage:
    """Send a dead (or failed) message again. Earlier attempts stay in its history; a message
    already sent or being sent is left alone, so overlapping replays never double an effect."""
    with transaction.atomic():
        message = OutboxMessage.objects.select_for_update().get(pk=message_id)
        if message.status not in (OutboxMessage.Status.DEAD, OutboxMessage.Status.FAILED):
            return message
        message.status, message.attempts, message.next_attempt_at = (
            OutboxMessage.Status.PENDING,
            0,
            timezone.now(),
        )
        message.replay_count += 1
        message.dead_at, message.enqueued_at = None, timezone.now()
        message.save()
        with use_trace(message.trace_id):
            record_trace_step(
                kind="outbound",
                action="replayed",
                summary=f"replay #{message.replay_count}",
                subject=message,
            )
        transaction.on_commit(lambda: dispatch.publish_outbox_message(message.pk))
    return message
