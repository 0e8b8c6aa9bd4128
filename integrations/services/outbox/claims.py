"""Claiming outbox messages: a conditional UPDATE under a claim token, with a lease.

0 rows claimed means another worker got there first, or the message is not due. A claim is
given back (``release``) without counting an attempt when the message must wait.
"""

import uuid
from datetime import datetime, timedelta

from django.conf import settings
from django.db import models
from django.utils import timezone

from integrations.models import OutboxMessage

UNSENT = (OutboxMessage.Status.PENDING, OutboxMessage.Status.SENDING, OutboxMessage.Status.FAILED)


def claim_due(token: uuid.UUID, **which: object) -> int:
    """Claim the due messages among ``which`` (a filter) for ``token``: one conditional UPDATE
    (0 rows: another worker got there first, or nothing is due). Counts an attempt and sets a
    lease; returns how many were claimed."""
    now = timezone.now()
    return OutboxMessage.objects.filter(
        status__in=[OutboxMessage.Status.PENDING, OutboxMessage.Status.FAILED],
        next_attempt_at__lte=now,
        **which,
    ).update(
        status=OutboxMessage.Status.SENDING,
        claim_token=token,
        attempts=models.F("attempts") + 1,
        lease_expires_at=now + timedelta(seconds=settings.OUTBOX_LEASE_SECONDS),
    )


def claim_message(message_id: uuid.UUID) -> tuple[OutboxMessage | None, uuid.UUID]:
    """Claim one message: (the message with its system, or None when not claimed; the token)."""
    token = uuid.uuid4()
    claimed = claim_due(token, pk=message_id)
    if not claimed:
        return None, token
    return OutboxMessage.objects.select_related("system").get(pk=message_id), token


def earlier_unsent_exists(message: OutboxMessage) -> bool:
    """True when an earlier message to the same external object is not sent yet."""
    if not message.object_key:
        return False
    return OutboxMessage.objects.filter(
        system_id=message.system_id,
        object_key=message.object_key,
        status__in=UNSENT,
        created_at__lt=message.created_at,
    ).exists()


def release(
    message: OutboxMessage, token: uuid.UUID, *, retry_at: datetime | None, reason: str
) -> None:
    """Give a claim back without counting an attempt (ordering wait, open breaker)."""
    OutboxMessage.objects.filter(pk=message.pk, claim_token=token).update(
        status=OutboxMessage.Status.PENDING
        if message.attempts <= 1
        else OutboxMessage.Status.FAILED,
        attempts=models.F("attempts") - 1,
        claim_token=None,
        lease_expires_at=None,
        next_attempt_at=retry_at,
        enqueued_at=None,
        last_error=reason,
    )
