"""Sending outbox messages in batches (`make bench`).

The messages a batch of inbound events wrote are claimed by one conditional UPDATE under one
claim token (lease as usual), the connector is called for each outside any transaction, and one
transaction records every attempt and outcome (``record_outcome``, batched), finishing only the
rows our token still holds. A message whose object has an earlier unsent message, or whose
system's breaker is not closed (deferral, probe), is given back and goes through
``dispatch_outbox_message``, so the rules of the one-message path hold unchanged.
"""

import time
import uuid
from collections import Counter
from datetime import datetime
from typing import cast

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from integrations.connectors import DeliveryResult, RateLimited, RetryableError
from integrations.models import DeliveryAttempt, OutboxMessage
from integrations.models.rows import update_grouped
from integrations.services import breakers
from integrations.services.outbox.claims import UNSENT, claim_due, release
from integrations.services.outbox.deliver import dispatch_outbox_message
from integrations.services.outbox.outcomes import (
    SENT_FIELDS,
    DeliveryCall,
    after_sent,
    call_connector,
    record_outcome,
)
from integrations.services.traces import collect_trace_steps, use_trace


def dispatch_outbox_messages(*, message_ids: list[uuid.UUID]) -> None:
    """Deliver due messages, sharing claims and bookkeeping when they can go together.
    Idempotent and safe to run concurrently with any other dispatch of the same ids."""
    if len(message_ids) < 2:
        for message_id in message_ids:
            dispatch_outbox_message(message_id=message_id)
        return
    token = uuid.uuid4()
    claim_due(token, pk__in=message_ids)
    claimed = list(
        OutboxMessage.objects.select_related("system")
        .filter(claim_token=token)
        .order_by("created_at", "pk")
    )
    together, alone = _split_claimed(claimed, token)
    if together:
        alone += _call_and_finish_all(together, token)
    for message in alone:  # given back untouched; its own dispatch decides (wait, defer, probe)
        release(message, token, retry_at=timezone.now(), reason=message.last_error)
    for message in sorted(alone, key=lambda m: (m.created_at, m.pk)):
        dispatch_outbox_message(message_id=message.pk)


def _split_claimed(
    claimed: list[OutboxMessage], token: uuid.UUID
) -> tuple[list[OutboxMessage], list[OutboxMessage]]:
    """(messages to send together, messages to send one by one)."""
    keyed = {(m.system_id, m.object_key) for m in claimed if m.object_key}
    earliest_unsent: dict[tuple[int, str], datetime] = {}
    if keyed:
        others = (
            OutboxMessage.objects.filter(
                system_id__in={system_id for system_id, _ in keyed},
                object_key__in={key for _, key in keyed},
                status__in=UNSENT,
            )
            .exclude(claim_token=token)
            .values_list("system_id", "object_key", "created_at")
        )
        for system_id, object_key, created_at in others:
            current = earliest_unsent.get((system_id, object_key))
            earliest_unsent[(system_id, object_key)] = min(current or created_at, created_at)
    closed = {
        system_id: breakers.is_closed(system_id=system_id)
        for system_id in {m.system_id for m in claimed}
    }
    together: list[OutboxMessage] = []
    alone: list[OutboxMessage] = []
    seen: set[tuple[int, str]] = set()
    for message in claimed:  # in created_at order
        key = (message.system_id, message.object_key)
        waits = message.object_key and (
            key in seen or (key in earliest_unsent and earliest_unsent[key] < message.created_at)
        )
        if waits or not closed[message.system_id]:
            alone.append(message)
            continue
        if message.object_key:
            seen.add(key)
        together.append(message)
    return together, alone


def _call_and_finish_all(messages: list[OutboxMessage], token: uuid.UUID) -> list[OutboxMessage]:
    """Call and record ``messages``; returns those not called. A peer that fails as unwell
    (RetryableError) stops the batch there: the rest go one by one, each through the breaker,
    which counts this failure first (so an outage trips it within its threshold). The claim's
    lease was set once for all: past half of it, the rest go one by one too, each with a fresh
    claim, so a slow peer never lets the sweeper rescue claims this batch still holds."""
    calls: list[DeliveryCall] = []
    untried = []
    give_up_at = time.monotonic() + settings.OUTBOX_LEASE_SECONDS / 2
    for message in messages:  # outside any transaction
        last = calls[-1].error if calls else None
        unwell = isinstance(last, RetryableError) or (
            isinstance(last, RateLimited) and last.pause_system
        )
        if unwell or time.monotonic() > give_up_at:
            untried.append(message)
            continue
        with use_trace(message.trace_id):
            calls.append(call_connector(message))
    held, sent = _finish_all(calls, token)
    successes = Counter(call.message.system_id for call in sent)
    for system_id, count in successes.items():
        breakers.record_success(system_id=system_id, calls=count)
    for call in calls:
        if isinstance(call.error, RetryableError) and call.message.pk in held:
            breakers.record_failure(system_id=call.message.system_id, error=str(call.error))
        elif isinstance(call.error, RateLimited) and call.error.pause_system:
            breakers.pause(
                system_id=call.message.system_id,
                seconds=call.error.retry_after,
                reason=str(call.error),
            )
    return untried


def _finish_all(
    calls: list[DeliveryCall], token: uuid.UUID
) -> tuple[set[uuid.UUID], list[DeliveryCall]]:
    """Record every call in one transaction; returns (the ids our token still held, the calls
    that delivered)."""
    with transaction.atomic(), collect_trace_steps():
        held = set(
            OutboxMessage.objects.select_for_update()
            .filter(pk__in=[call.message.pk for call in calls], claim_token=token)
            .values_list("pk", flat=True)
        )
        attempts: list[DeliveryAttempt] = []
        sent: list[DeliveryCall] = []
        finished_at = timezone.now()
        for call in calls:
            stale = call.message.pk not in held  # rescued by the sweeper while we were calling
            with use_trace(call.message.trace_id):
                attempts.append(record_outcome(call, stale=stale, batched=True, now=finished_at))
            if not stale and call.error is None:
                sent.append(call)
        DeliveryAttempt.objects.bulk_create(attempts)
        if sent:
            per_message = ["external_id", "response"]
            messages_sent = [call.message for call in sent]
            update_grouped(messages_sent, [f for f in SENT_FIELDS if f not in per_message])
            OutboxMessage.objects.bulk_update(messages_sent, per_message)
        for call in sent:
            with use_trace(call.message.trace_id):
                after_sent(call.message, cast(DeliveryResult, call.result))
    return held, sent
