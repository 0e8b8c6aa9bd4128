"""Rescuing claims whose lease ran out (their worker died or hung): the sweeper's first step."""

import logging
import uuid
from datetime import datetime

from django.db import models, transaction
from django.utils import timezone

from integrations.models import OutboxMessage
from integrations.registry import dead_letter_hooks
from integrations.services.traces import record_trace_step, use_trace

logger = logging.getLogger("integrations.services.outbox")


def rescue_expired_claims() -> int:
    """Claims whose lease ran out (their worker died) go back to be retried; returns the count.

    A message whose worker died on every one of its ``max_attempts`` tries is poison (it kills or
    hangs its worker): it is dead-lettered instead of being retried forever (docs/reliability.md rule 2;
    before this, the crash loop never ended: found by tests/e2e/test_reliability.py's poison
    test).
    """
    now = timezone.now()
    expired = OutboxMessage.objects.filter(
        status=OutboxMessage.Status.SENDING, lease_expires_at__lt=now
    )
    for message_id in expired.filter(attempts__gte=models.F("max_attempts")).values_list(
        "pk", flat=True
    ):
        _dead_letter_crashed(message_id, now)
    return expired.filter(attempts__lt=models.F("max_attempts")).update(
        status=OutboxMessage.Status.FAILED,
        claim_token=None,
        lease_expires_at=None,
        next_attempt_at=now,
        enqueued_at=None,
        last_error="rescued: the worker holding the claim stopped answering",
    )


def _dead_letter_crashed(message_id: uuid.UUID, now: datetime) -> None:
    with transaction.atomic():
        message = (
            OutboxMessage.objects.select_for_update()
            .select_related("system")
            .filter(pk=message_id, status=OutboxMessage.Status.SENDING, lease_expires_at__lt=now)
            .first()
        )
        if message is None:  # finished or rescued by someone else meanwhile
            return
        message.status, message.dead_at, message.error_class = (
            OutboxMessage.Status.DEAD,
            now,
            "worker_lost",
        )
        message.last_error = (
            f"the worker died (or overran its lease) on each of {message.attempts} attempts"
        )
        message.claim_token, message.lease_expires_at, message.enqueued_at = None, None, None
        message.save()
        with use_trace(message.trace_id):
            record_trace_step(
                kind="outbound",
                action="dead",
                summary=f"{message.kind} to {message.system.slug}: {message.last_error}",
                subject=message,
                detail={"attempt": message.attempts, "error_class": message.error_class},
            )
        logger.error("outbox.dead", extra={"message_id": str(message.pk), "kind": message.kind})
        for hook in dead_letter_hooks.values():
            hook(message)
