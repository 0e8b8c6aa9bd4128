"""Applying inbound events in batches (`make bench`).

One event at a time cost about 36 statements and 7 COMMITs per event, each a round trip and
most a WAL flush. Here the common case (fresh events, no failures) shares its statements across
a batch, with the same guarantees as the one-at-a-time path, which stays the path for
everything else. The first attempt of each fresh event is counted by one committed UPDATE
before anything runs (a batch that kills its worker counts against every event in it: the
redelivered task finds them counted and applies them one by one, so a poison event is isolated
at its next attempt and dead-lettered after ``INBOX_MAX_ATTEMPTS``). Then one transaction locks
the events and their source-object states in primary-key order, applies each in id order
through ``apply_event`` (per-object ordering as in ``lock_source_order``, the state kept in
memory across the batch), and writes statuses, states and trace steps with one statement each.
Any exception rolls the whole batch back; its count is undone and its events are applied one by
one, each in its own transaction, exactly as before.
"""

import logging
from collections.abc import Callable

from celery.exceptions import SoftTimeLimitExceeded
from django.db import connections, models, transaction
from django.utils import timezone

from integrations.models import InboundEvent, SourceObjectState
from integrations.models.rows import update_grouped
from integrations.services.inbox.apply import apply_event, is_superseded, process_inbound_event
from integrations.services.inbox.steps import build_received_step
from integrations.services.systems import remember_systems
from integrations.services.traces import collect_trace_steps, use_trace

logger = logging.getLogger("integrations.services.batches")
StateKey = tuple[int, str]


def process_inbound_events(
    *, event_ids: list[int], after_each: Callable[[], None] | None = None
) -> None:
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
        changed: dict[StateKey, SourceObjectState] = {}
        in_order = _in_memory_order(_lock_states(events), changed)
        for event in events:
            with use_trace(event.trace_id):
                received = build_received_step(event)
                # Under the event's own trace: None only for an event stored without a trace id,
                # which receive_webhook never writes (it would fail the batch either way).
                assert received is not None
                steps.append(received)
                apply_event(event, now=now, in_order=in_order)
        update_grouped(events, ["status", "error", "processed_at", "next_attempt_at"])
        if changed:  # rows that exist and that we hold: an upsert is one UPDATE of each
            SourceObjectState.objects.bulk_create(
                list(changed.values()),
                update_conflicts=True,
                unique_fields=["system", "object_key"],
                update_fields=["last_applied_at", "last_event"],
            )


def _in_memory_order(
    states: dict[StateKey, SourceObjectState], changed: dict[StateKey, SourceObjectState]
) -> Callable[[InboundEvent], bool]:
    """``apply_event``'s ordering check over the locked ``states`` of a batch: each applied
    event moves its object's state in memory and is noted in ``changed`` (written at the end)."""

    def in_order(event: InboundEvent) -> bool:
        key = (event.system_id, event.object_key)
        state = states[key]
        if is_superseded(event, state.last_applied_at):
            return False
        state.last_applied_at, state.last_event = event.occurred_at, event
        changed[key] = state
        return True

    return in_order


def _lock_states(events: list[InboundEvent]) -> dict[StateKey, SourceObjectState]:
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
