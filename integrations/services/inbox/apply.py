"""Applying an inbound event through its registered handler.

``apply_event`` is the one way an event is applied, by ``process_inbound_event`` (one event,
its own transaction) and by the batch path (services/inbox/batch.py, one transaction for many).
"""

import contextlib
import logging
from collections.abc import Callable
from datetime import datetime

from django.conf import settings
from django.db import IntegrityError, models, transaction
from django.utils import timezone

from integrations.models import InboundEvent, SourceObjectState
from integrations.registry import dead_letter_hooks, inbox_handlers
from integrations.services.backoff import backoff_delay
from integrations.services.inbox.steps import record_event_step
from integrations.services.traces import use_trace

logger = logging.getLogger("integrations.services.inbox")
SUPERSEDED_ERROR = "a newer event of the same object was already applied"
# What applying an event changes on its row (process_inbound_event saves these).
OUTCOME_FIELDS = ["status", "error", "processed_at", "next_attempt_at", "attempts"]


def is_superseded(event: InboundEvent, last_applied_at: datetime | None) -> bool:
    """True when a newer event of the same source object was applied already."""
    return bool(last_applied_at and event.occurred_at and event.occurred_at < last_applied_at)


def apply_event(
    event: InboundEvent,
    *,
    now: datetime,
    in_order: Callable[[InboundEvent], bool],
    atomic: Callable[[], contextlib.AbstractContextManager] = contextlib.nullcontext,
) -> str:
    """Apply ``event`` through its handler and set the outcome on the instance (status, error,
    processed_at, next_attempt_at), log it and record its trace step; the caller saves the row.
    Returns the step's action: "unhandled", "superseded" or "processed".

    ``in_order(event)`` takes the event's place in its source object's order (False: a newer
    event was applied, the event is superseded); it and the handler run inside ``atomic()`` (a
    savepoint for one event; nothing more inside a batch's transaction). A handler's exception
    propagates: the caller records the failure or rolls the batch back.
    """
    handler = inbox_handlers.get(event.event_type)
    if handler is None:
        event.status = InboundEvent.Status.UNHANDLED
        event.error = f"no handler is registered for {event.event_type}"
        logger.error(
            "inbox.unhandled", extra={"event_id": event.pk, "event_type": event.event_type}
        )
        record_event_step(event, action="unhandled", summary=event.error)
        return "unhandled"
    with atomic():
        if not in_order(event):
            event.status, event.error = InboundEvent.Status.SUPERSEDED, SUPERSEDED_ERROR
            event.processed_at = now
            record_event_step(event, action="superseded", summary=event.error)
            return "superseded"
        handler(event)
    event.status, event.error, event.processed_at, event.next_attempt_at = (
        InboundEvent.Status.PROCESSED,
        "",
        now,
        None,
    )
    logger.info("inbox.processed", extra={"event_id": event.pk, "event_type": event.event_type})
    record_event_step(event, action="processed", summary=f"{event.event_type} applied")
    return "processed"


def lock_source_order(event: InboundEvent) -> bool:
    """Lock the source object's state; False when a newer event of it was already applied."""
    key = {"system_id": event.system_id, "object_key": event.object_key}
    state = SourceObjectState.objects.select_for_update().filter(**key).first()
    if state is None:  # the object's first event: our INSERT holds the new row's lock
        try:
            with transaction.atomic():
                # Created already applied: no UPDATE after (one query less per new object).
                SourceObjectState.objects.create(
                    **key, last_applied_at=event.occurred_at, last_event=event
                )
            return True
        except IntegrityError:  # another worker created it first: wait for its lock
            state = SourceObjectState.objects.select_for_update().get(**key)
    if is_superseded(event, state.last_applied_at):
        return False
    state.last_applied_at, state.last_event = event.occurred_at, event
    state.save(update_fields=["last_applied_at", "last_event"])
    return True


def process_inbound_event(*, event_id: int, force: bool = False) -> InboundEvent:
    """Apply one received event through its handler, in one transaction. Idempotent: an event
    that is processed, superseded, rejected or dead is left alone (unless ``force``, used by
    replay). A failing handler leaves the event ``failed`` with the error and a next attempt;
    after ``INBOX_MAX_ATTEMPTS`` it is ``dead`` and dead-letter hooks run."""
    retryable = [InboundEvent.Status.RECEIVED, InboundEvent.Status.FAILED]
    # Count the attempt before the handler runs, committed on its own: a handler that kills its
    # worker (SIGKILL, OOM, segfault) rolls back everything it did, attempt count included, and
    # the broker redelivers the task at once (task_reject_on_worker_lost), so without this an
    # event that crashes its worker would be retried forever (docs/reliability.md rule 2; found by
    # tests/e2e/test_reliability.py's poison test).
    due = {} if force else {"status__in": retryable, "attempts__lt": settings.INBOX_MAX_ATTEMPTS}
    counted = InboundEvent.objects.filter(pk=event_id, **due).update(
        attempts=models.F("attempts") + 1
    )
    with transaction.atomic():
        event = InboundEvent.objects.select_for_update().select_related("system").get(pk=event_id)
        if event.status not in retryable and not force:
            return event
        with use_trace(event.trace_id):
            if counted and event.attempts == 1 and not event.replay_count and not force:
                event._received_step_pending = True  # written with its first outcome
            if not counted:
                if event.attempts >= settings.INBOX_MAX_ATTEMPTS:
                    # Every allowed attempt was counted and the last one never recorded an
                    # outcome: its worker died while applying the event.
                    return record_failure(
                        event, f"the worker died while applying this event, {event.attempts} times"
                    )
                event.attempts += 1  # replayed between the count and the lock: count it here
            return _apply_locked(event)


def _apply_locked(event: InboundEvent) -> InboundEvent:
    """Apply the locked ``event`` (its attempt counted) and save the outcome."""
    try:
        apply_event(
            event, now=timezone.now(), in_order=lock_source_order, atomic=transaction.atomic
        )
    except Exception as exc:  # noqa: BLE001 boundary: any handler failure is recorded and retried
        logger.warning("inbox.handler_failed", exc_info=True, extra={"event_id": event.pk})
        return record_failure(event, f"{type(exc).__name__}: {exc}")
    event.save(update_fields=OUTCOME_FIELDS)
    return event


def record_failure(event: InboundEvent, error: str) -> InboundEvent:
    """Record a failed attempt of ``event``: retried after a backoff, or dead (and the
    dead-letter hooks run) once INBOX_MAX_ATTEMPTS are spent."""
    event.error = error[:4000]
    if event.attempts >= settings.INBOX_MAX_ATTEMPTS:
        event.status, event.next_attempt_at = InboundEvent.Status.DEAD, None
        record_event_step(
            event, action="dead", summary=f"gave up after {event.attempts} attempts: {error}"
        )
    else:
        event.status = InboundEvent.Status.FAILED
        event.next_attempt_at = timezone.now() + backoff_delay(event.attempts)
        event.enqueued_at = None
        record_event_step(event, action="failed", summary=error)
    event.save(update_fields=["status", "error", "next_attempt_at", "enqueued_at", "attempts"])
    if event.status == InboundEvent.Status.DEAD:
        for hook in dead_letter_hooks.values():
            hook(event)
    return event
