"""Thin Celery entry points: parse ids, call one service. Retries live in the database
(``next_attempt_at``) and the sweeper, not in far-future Celery countdowns."""

import uuid

from celery import shared_task
from celery.exceptions import SoftTimeLimitExceeded


@shared_task(acks_late=True)
def process_inbound_event_task(event_id: int) -> None:
    from integrations.services.inbox import process_inbound_event

    process_inbound_event(event_id=int(event_id))


@shared_task(acks_late=True)
def process_inbound_events_task(event_ids: list[int]) -> None:
    """The debounced inbox doorbell: the events one web process committed within a few ms,
    applied in the order received, each in its own transaction (as process_inbound_event_task)."""
    import logging

    from integrations.services.inbox import process_inbound_event
    from integrations.services.outbox import dispatch_inline

    # The messages these events write are sent inline for the first INLINE_DISPATCH_SECONDS of
    # the task (well under its 45 s soft limit), then by their own tasks.
    with dispatch_inline(seconds=INLINE_DISPATCH_SECONDS):
        for event_id in event_ids:
            try:
                process_inbound_event(event_id=int(event_id))
            except SoftTimeLimitExceeded:
                raise
            except Exception:  # noqa: BLE001 one event's failure must not strand the others
                # Left as it is (received or failed): the sweeper queues it again.
                logging.getLogger(__name__).exception("inbox.apply_failed", extra={"id": event_id})


INLINE_DISPATCH_SECONDS = 10.0


@shared_task(acks_late=True)
def dispatch_outbox_message_task(message_id: str) -> None:
    from integrations.services.outbox import dispatch_outbox_message

    dispatch_outbox_message(message_id=uuid.UUID(message_id))


@shared_task(acks_late=True)
def sweep_due_work_task() -> dict:
    from integrations.services.sweeper import sweep_due_work

    return sweep_due_work()


@shared_task
def ping_task() -> str:
    """Canary: answers when a worker consumes (readiness checks)."""
    return "pong"
