"""One call to a connector and its outcome: the ``DeliveryAttempt`` row and the message's state.

``record_outcome`` is the one way an outcome is recorded, by the one-message path
(services/outbox/deliver.py) and the batch path (services/outbox/batch.py).
"""

import logging
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import cast

from django.utils import timezone

from integrations.connectors import (
    ConnectorError,
    DeliveryResult,
    RateLimited,
    RetryableError,
)
from integrations.models import DeliveryAttempt, ExternalRef, OutboxMessage
from integrations.registry import dead_letter_hooks, delivery_hooks
from integrations.services.api_usage import keep_api_usage
from integrations.services.backoff import backoff_delay
from integrations.services.connectors import connector_for
from integrations.services.outbox.policy import retry_policy
from integrations.services.traces import record_trace_step

logger = logging.getLogger("integrations.services.outbox")
SENT_FIELDS = [
    "status",
    "sent_at",
    "claim_token",
    "lease_expires_at",
    "external_id",
    "response",
    "last_error",
    "error_class",
]


@dataclass
class DeliveryCall:
    """What one call to the connector gave (``called=False``: deferred, the breaker is open)."""

    message: OutboxMessage
    started_at: datetime
    duration_ms: int = 0
    result: DeliveryResult | None = None
    error: ConnectorError | None = None
    called: bool = True


def call_connector(message: OutboxMessage) -> DeliveryCall:
    """Deliver ``message`` through its system's connector (outside any transaction)."""
    started, clock = timezone.now(), time.monotonic()
    connector = None
    try:
        connector = connector_for(message.system)
        result = connector.deliver(
            message.kind, message.payload, idempotency_key=message.idempotency_key
        )
    except ConnectorError as exc:
        error: ConnectorError | None = exc
        result = None
    else:
        error = None
    if connector is not None and connector.api_usage is not None:
        keep_api_usage(message.system, connector)
    duration_ms = int((time.monotonic() - clock) * 1000)
    return DeliveryCall(message, started, duration_ms, result, error)


def record_outcome(
    call: DeliveryCall, *, stale: bool = False, batched: bool = False, now: datetime | None = None
) -> DeliveryAttempt:
    """Record ``call``'s outcome: its DeliveryAttempt row and, unless the call was deferred or is
    ``stale`` (the sweeper rescued the claim meanwhile), the message's new state: sent, or
    failed / dead with its trace step and hooks. Returns the attempt row.

    One message: the row is written first, then the message is saved (a sent one then gets its
    ExternalRef, trace step and delivery hooks, ``after_sent``). ``batched``: the row is left
    unsaved for the caller's single INSERT, and a sent message's SENT_FIELDS are set, not saved
    (the caller writes them for the batch, dated ``now``, then runs ``after_sent``); a failed one
    is saved at once either way.
    """
    message, error = call.message, call.error
    outcome: str
    if not call.called:
        outcome, error_text = DeliveryAttempt.Outcome.DEFERRED, "breaker open"
    elif stale:
        outcome, error_text = DeliveryAttempt.Outcome.STALE, str(error or "")
    else:
        outcome = DeliveryAttempt.Outcome.SUCCESS if error is None else error.outcome
        error_text = str(error or "")
    attempt = DeliveryAttempt(
        message=message,
        number=message.attempts,
        started_at=call.started_at,
        duration_ms=call.duration_ms,
        outcome=outcome,
        error=error_text,
        replay_round=message.replay_count,
    )
    if not batched:
        attempt.save(force_insert=True)
    if not call.called or stale:
        return attempt
    if error is None:
        mark_sent(message, cast(DeliveryResult, call.result), save=not batched, now=now)
    else:
        mark_failed(message, error)
    return attempt


def mark_sent(
    message: OutboxMessage,
    result: DeliveryResult,
    *,
    save: bool = True,
    now: datetime | None = None,
) -> None:
    """Mark ``message`` sent with the connector's ``result`` (in the finishing transaction).
    With ``save=False`` the caller writes SENT_FIELDS itself (a batch: one UPDATE for all,
    with one ``now``)."""
    now = now or timezone.now()
    message.status, message.sent_at, message.claim_token, message.lease_expires_at = (
        OutboxMessage.Status.SENT,
        now,
        None,
        None,
    )
    message.external_id, message.response, message.last_error, message.error_class = (
        result.external_id,
        result.data,
        "",
        "",
    )
    if save:
        message.save(update_fields=SENT_FIELDS)
        after_sent(message, result)


def after_sent(message: OutboxMessage, result: DeliveryResult) -> None:
    """What follows a message's ``sent`` row: its ExternalRef, log, trace step, delivery hooks."""
    if message.external_object_type and message.content_type_id and result.external_id:
        ExternalRef.objects.update_or_create(
            system_id=message.system_id,
            object_type=message.external_object_type,
            external_id=result.external_id,
            defaults={
                "content_type_id": message.content_type_id,
                "object_id": message.object_id,
                "trace_id": message.trace_id,
            },
        )
    logger.info(
        "outbox.sent",
        extra={"message_id": str(message.pk), "kind": message.kind, "attempt": message.attempts},
    )
    record_trace_step(
        kind="outbound",
        action="sent",
        summary=f"{message.kind} delivered to {message.system.slug}"
        + (f" as {result.external_id}" if result.external_id else ""),
        subject=message,
        detail={"attempt": message.attempts},
    )
    for hook in delivery_hooks.values():
        hook(message)


def mark_failed(message: OutboxMessage, error: ConnectorError) -> None:
    """Record a failed call: retried after a backoff (or the peer's Retry-After), or dead (and
    the dead-letter hooks run) when the error is final or the attempts are spent."""
    message.last_error, message.error_class = str(error)[:4000], error.outcome
    message.claim_token, message.lease_expires_at, message.enqueued_at = None, None, None
    gives_up = (
        not isinstance(error, RetryableError | RateLimited)
        or message.attempts >= message.max_attempts
    )
    if gives_up:
        message.status, message.dead_at = OutboxMessage.Status.DEAD, timezone.now()
    else:
        message.status = OutboxMessage.Status.FAILED
        message.next_attempt_at = timezone.now() + _retry_delay(message, error)
    message.save()
    record_trace_step(
        kind="outbound",
        action="dead" if gives_up else "failed",
        summary=f"{message.kind} to {message.system.slug}: {error}",
        subject=message,
        detail={"attempt": message.attempts, "error_class": error.outcome},
    )
    if gives_up:
        logger.error("outbox.dead", extra={"message_id": str(message.pk), "kind": message.kind})
        for hook in dead_letter_hooks.values():
            hook(message)


def _retry_delay(message: OutboxMessage, error: ConnectorError) -> timedelta:
    if isinstance(error, RateLimited):
        return timedelta(seconds=error.retry_after)
    policy = retry_policy(message.kind)
    return backoff_delay(
        message.attempts, base=policy.backoff_base_seconds, cap=policy.backoff_cap_seconds
    )
