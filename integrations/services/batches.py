"""Applying inbound events and sending outbox messages in batches (`make bench`).

One event or message at a time cost about 36 statements and 7 COMMITs per event, each a round
trip and most a WAL flush: the runtime did a tenth of what bare one-INSERT tasks do. Here the
common case (fresh events, closed breakers, no failures) shares its statements across a batch,
with the same guarantees as the one-at-a-time path, which stays the path for everything else:

- **Apply**: the first attempt of each fresh event is counted by one committed UPDATE before
  anything runs (a batch that kills its worker counts against every event in it: the
  redelivered task finds them counted and applies them one by one, so a poison event is
  isolated at its next attempt and dead-lettered after ``INBOX_MAX_ATTEMPTS``). Then one
  transaction locks the events and their source-object states in primary-key order, applies
  each in id order through its handler (per-object ordering as in ``_apply_in_order``, the
  state kept in memory across the batch), and writes statuses, states and trace steps with one
  statement each. Any exception rolls the whole batch back; its count is undone and its events
  are applied one by one, each in its own transaction, exactly as before.
- **Send**: the messages a batch wrote are claimed by one conditional UPDATE under one claim
  token (lease as usual), the connector is called for each outside any transaction, and one
  transaction records every attempt and outcome, finishing only the rows our token still
  holds. A message whose object has an earlier unsent message, or whose system's breaker is
  not closed (deferral, probe), is given back and goes through ``dispatch_outbox_message``.
"""

import logging
import time
import uuid
from collections import Counter

from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django.db import connections, models, transaction
from django.utils import timezone

from integrations import breakers
from integrations.connectors import ConnectorError, RetryableError, get_connector
from integrations.models import DeliveryAttempt, InboundEvent, OutboxMessage, SourceObjectState
from integrations.registry import inbox_handlers
from integrations.services.inbox import build_received_step, process_inbound_event
from integrations.services.outbox import (
    SENT_FIELDS,
    UNSENT,
    _mark_failed,
    _mark_sent,
    _release,
    after_sent,
    claim_due,
    dispatch_outbox_message,
)
from integrations.services.systems import remember_systems
from integrations.traces import build_trace_step, collect_trace_steps, use_trace

logger = logging.getLogger(__name__)


# --- inbound events ---------------------------------------------------------------------------
def process_inbound_events(*, event_ids: list[int], after_each=None) -> None:
    """Apply ``event_ids``: fresh ones as one batch, the others (and all of them when the batch
    fails) one by one through ``process_inbound_event``. ``after_each`` runs after each COMMIT
    (the task sends the messages just written)."""
    after_each = after_each or (lambda: None)
    counted = _count_first_attempts(event_ids)
    if counted:
        try:
            _apply_batch(counted)
        except SoftTimeLimitExceeded:
            _uncount(counted)
            raise
        except Exception:  # noqa: BLE001 any failure: roll back, then one by one as before
            logger.warning("inbox.batch_failed", exc_info=True, extra={"count": len(counted)})
            _uncount(counted)
            counted = []
        after_each()
    for event_id in event_ids:
        if event_id in counted:
            continue
        try:
            process_inbound_event(event_id=int(event_id))
        except SoftTimeLimitExceeded:
            raise
        except Exception:  # noqa: BLE001 one event's failure must not strand the others
            # Left as it is (received or failed): the sweeper queues it again.
            logger.exception("inbox.apply_failed", extra={"id": event_id})
        after_each()


def _count_first_attempts(event_ids: list[int]) -> list[int]:
    """Count the first attempt of the fresh events among ``event_ids`` (received, never tried,
    never replayed) in one committed UPDATE; returns those ids, ascending. Another worker's
    count and ours cannot both succeed (``attempts = 0`` is re-checked under the row lock)."""
    connection = connections[InboundEvent.objects.db]
    ids = sorted({int(event_id) for event_id in event_ids})
    if len(ids) < 2 or not connection.features.can_return_columns_from_insert:
        return []  # one event, or a database without RETURNING: the one-by-one path
    table = connection.ops.quote_name(InboundEvent._meta.db_table)
    placeholders = ", ".join(["%s"] * len(ids))
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {table} SET attempts = attempts + 1 WHERE id IN ({placeholders})"  # noqa: S608 names from the model
            " AND status = %s AND attempts = 0 AND replay_count = 0 RETURNING id",
            [*ids, InboundEvent.Status.RECEIVED],
        )
        return sorted(row[0] for row in cursor.fetchall())


def _uncount(event_ids: list[int]) -> None:
    try:
        InboundEvent.objects.filter(
            pk__in=event_ids, status=InboundEvent.Status.RECEIVED, attempts__gt=0
        ).update(attempts=models.F("attempts") - 1)
    except Exception:  # noqa: BLE001 the one-by-one path counts again: one attempt too many
        logger.warning("inbox.uncount_failed", exc_info=True)


def _apply_batch(event_ids: list[int]) -> None:
    now = timezone.now()
    with transaction.atomic(), collect_trace_steps() as steps, remember_systems():
        events = list(
            InboundEvent.objects.select_for_update()
            .select_related("system")
            .filter(pk__in=event_ids)
            .order_by("pk")
        )
        # Counted by us, so ours: anything else (replayed meanwhile, counted twice) is left to
        # the one-by-one path of whoever holds it.
        events = [e for e in events if e.status == InboundEvent.Status.RECEIVED and e.attempts == 1]
        states = _lock_states(events)
        changed_states: dict[tuple[int, str], SourceObjectState] = {}
        for event in events:
            with use_trace(event.trace_id):
                steps.append(build_received_step(event))
                _apply_one(event, states, changed_states, now, steps)
        _update_grouped(events, ["status", "error", "processed_at", "next_attempt_at"])
        if changed_states:  # rows that exist and that we hold: an upsert is one UPDATE of each
            SourceObjectState.objects.bulk_create(
                list(changed_states.values()),
                update_conflicts=True,
                unique_fields=["system", "object_key"],
                update_fields=["last_applied_at", "last_event"],
            )


def _update_grouped(objects: list[models.Model], fields: list[str]) -> None:
    """Save ``fields`` of ``objects`` with one UPDATE per distinct combination of their values
    (a batch mostly shares them: one statement), cheaper than ``bulk_update``'s CASE per row."""
    groups: dict[tuple, list] = {}
    for obj in objects:
        values = tuple(getattr(obj, field) for field in fields)
        groups.setdefault(values, []).append(obj.pk)
    for values, pks in groups.items():
        type(objects[0]).objects.filter(pk__in=pks).update(**dict(zip(fields, values, strict=True)))


def _lock_states(events: list[InboundEvent]) -> dict[tuple[int, str], SourceObjectState]:
    """The source-object state rows of ``events``, created when missing, locked in pk order."""
    keys = sorted({(e.system_id, e.object_key) for e in events})
    SourceObjectState.objects.bulk_create(
        [SourceObjectState(system_id=system_id, object_key=key) for system_id, key in keys],
        ignore_conflicts=True,
    )
    rows = (
        SourceObjectState.objects.select_for_update()
        .filter(
            system_id__in={system_id for system_id, _ in keys},
            object_key__in={key for _, key in keys},
        )
        .order_by("pk")
    )
    wanted = set(keys)
    return {
        (row.system_id, row.object_key): row
        for row in rows
        if (row.system_id, row.object_key) in wanted
    }


def _apply_one(event, states, changed_states, now, steps) -> None:
    """One event of the batch, as ``_process_locked`` applies it (its statuses, steps, logs)."""
    handler = inbox_handlers.get(event.event_type)
    if handler is None:
        event.status = InboundEvent.Status.UNHANDLED
        event.error = f"no handler is registered for {event.event_type}"
        logger.error(
            "inbox.unhandled", extra={"event_id": event.pk, "event_type": event.event_type}
        )
        action, summary = "unhandled", event.error
    else:
        key = (event.system_id, event.object_key)
        state = states[key]
        newer_applied = (
            state.last_applied_at
            and event.occurred_at
            and event.occurred_at < state.last_applied_at
        )
        if newer_applied:
            event.status = InboundEvent.Status.SUPERSEDED
            event.error = "a newer event of the same object was already applied"
            event.processed_at = now
            action, summary = "superseded", event.error
        else:
            state.last_applied_at, state.last_event = event.occurred_at, event
            changed_states[key] = state
            handler(event)
            event.status, event.error, event.processed_at, event.next_attempt_at = (
                InboundEvent.Status.PROCESSED,
                "",
                now,
                None,
            )
            logger.info(
                "inbox.processed", extra={"event_id": event.pk, "event_type": event.event_type}
            )
            action, summary = "processed", f"{event.event_type} applied"
    steps.append(
        build_trace_step(
            kind="event", action=action, summary=summary, subject=event, trace_id=event.trace_id
        )
    )


# --- outbox messages --------------------------------------------------------------------------
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
        _release(message, token, retry_at=timezone.now(), reason=message.last_error)
    for message in sorted(alone, key=lambda m: (m.created_at, m.pk)):
        dispatch_outbox_message(message_id=message.pk)


def _split_claimed(claimed: list[OutboxMessage], token: uuid.UUID):
    """(messages to send together, messages to send one by one)."""
    keyed = {(m.system_id, m.object_key) for m in claimed if m.object_key}
    earliest_unsent: dict[tuple[int, str], object] = {}
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
        for system_id, key, created_at in others:
            current = earliest_unsent.get((system_id, key))
            earliest_unsent[(system_id, key)] = min(current or created_at, created_at)
    closed = {
        system_id: breakers.is_closed(system_id=system_id)
        for system_id in {m.system_id for m in claimed}
    }
    together, alone, seen = [], [], set()
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
    outcomes, untried = [], []
    give_up_at = time.monotonic() + settings.OUTBOX_LEASE_SECONDS / 2
    for message in messages:  # outside any transaction
        unwell = outcomes and isinstance(outcomes[-1][4], RetryableError)
        if unwell or time.monotonic() > give_up_at:
            untried.append(message)
            continue
        started, clock = timezone.now(), time.monotonic()
        with use_trace(message.trace_id):
            try:
                result = get_connector(message.system).deliver(
                    message.kind, message.payload, idempotency_key=message.idempotency_key
                )
                error = None
            except ConnectorError as exc:
                result, error = None, exc
        outcomes.append((message, started, int((time.monotonic() - clock) * 1000), result, error))

    with transaction.atomic(), collect_trace_steps():
        current = set(
            OutboxMessage.objects.select_for_update()
            .filter(pk__in=[outcome[0].pk for outcome in outcomes], claim_token=token)
            .values_list("pk", flat=True)
        )
        attempts, sent, finished_at = [], [], timezone.now()
        for message, started, duration_ms, result, error in outcomes:
            stale = message.pk not in current  # rescued by the sweeper while we were calling
            attempts.append(
                DeliveryAttempt(
                    message=message,
                    number=message.attempts,
                    started_at=started,
                    duration_ms=duration_ms,
                    outcome=DeliveryAttempt.Outcome.STALE
                    if stale
                    else (DeliveryAttempt.Outcome.SUCCESS if error is None else error.outcome),
                    error=str(error or ""),
                    replay_round=message.replay_count,
                )
            )
            if stale:
                continue
            with use_trace(message.trace_id):
                if error is None:
                    _mark_sent(message, result, save=False, now=finished_at)
                    sent.append((message, result))
                else:
                    _mark_failed(message, error)
        DeliveryAttempt.objects.bulk_create(attempts)
        if sent:
            per_message = ["external_id", "response"]
            messages_sent = [m for m, _ in sent]
            _update_grouped(messages_sent, [f for f in SENT_FIELDS if f not in per_message])
            OutboxMessage.objects.bulk_update(messages_sent, per_message)
        for message, result in sent:
            with use_trace(message.trace_id):
                after_sent(message, result)

    successes = Counter(m.system_id for m, _ in sent)
    for system_id, calls in successes.items():
        breakers.record_success(system_id=system_id, calls=calls)
    for message, _started, _duration, _result, error in outcomes:
        if isinstance(error, RetryableError) and message.pk in current:
            breakers.record_failure(system_id=message.system_id, error=str(error))
    return untried
