"""Delivering one outbox message.

Claiming is a conditional UPDATE (0 rows: another worker got there first, or the message is
not due); the connector is called outside any transaction; the result is written only if our
claim token still holds (a worker rescued by the sweeper cannot overwrite its successor).
"""

import uuid
from dataclasses import replace
from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from integrations.connectors import RateLimited, RetryableError
from integrations.models import OutboxMessage
from integrations.services import breakers
from integrations.services.outbox.claims import claim_message, earlier_unsent_exists, release
from integrations.services.outbox.outcomes import DeliveryCall, call_connector, record_outcome
from integrations.services.traces import use_trace


def dispatch_outbox_message(*, message_id: uuid.UUID) -> OutboxMessage | None:
    """Deliver one due message. Idempotent and safe to run concurrently for the same id."""
    message, token = claim_message(message_id)
    if message is None:
        return None
    with use_trace(message.trace_id):
        if earlier_unsent_exists(message):
            # Messages to one external object keep their order: wait for the earlier one.
            release(
                message,
                token,
                retry_at=timezone.now() + timedelta(seconds=2),
                reason="waiting for an earlier message to the same object",
            )
            return message
        permit = breakers.acquire_permit(system_id=message.system_id)
        if not permit.allowed:
            release(
                message,
                token,
                retry_at=permit.retry_at,
                reason="breaker open: deferred without calling",
            )
            record_outcome(DeliveryCall(message, timezone.now(), called=False))
            return message
        return _call_and_finish(message, token, is_probe=permit.is_probe)


def _call_and_finish(
    message: OutboxMessage, token: uuid.UUID, *, is_probe: bool = False
) -> OutboxMessage:
    call = call_connector(message)
    with transaction.atomic():
        current = (
            OutboxMessage.objects.select_for_update()
            .filter(pk=message.pk, claim_token=token)
            .first()
        )
        if current is None:
            # The sweeper rescued this claim while we were calling: our result is stale.
            record_outcome(call, stale=True)
            return message
        current.system = message.system  # loaded by the claim: saves a query per message
        record_outcome(replace(call, message=current))
    error = call.error
    if error is None:
        breakers.record_success(system_id=message.system_id)
    elif isinstance(error, RetryableError):
        breakers.record_failure(system_id=message.system_id, error=str(error))
    elif isinstance(error, RateLimited) and error.pause_system:
        breakers.pause(system_id=message.system_id, seconds=error.retry_after, reason=str(error))
    elif is_probe:
        # A probe answered with a refusal (permanent, auth, 429): the peer is up. Without this
        # the breaker stayed half-open, deferring every message, until the probe lease ran out.
        breakers.record_success(system_id=message.system_id)
    return current
