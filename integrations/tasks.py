"""Thin Celery entry points: parse ids, call one service. Retries live in the database
(``next_attempt_at``) and the sweeper, not in far-future Celery countdowns.

Services publish these by name (integrations/services/dispatch.py): this module imports the
services, never the reverse.
"""

import uuid

from celery import shared_task

from integrations.services.inbox import process_inbound_event, process_inbound_events
from integrations.services.outbox import dispatch_inline, dispatch_outbox_message, send_collected
from integrations.services.polling import poll_all
from integrations.services.sweeper import sweep_due_work

# The messages a batch of events writes are sent inline, right after the COMMIT that wrote
# them, for the first INLINE_DISPATCH_SECONDS of the task (well under its 45 s soft limit),
# then by their own tasks.
INLINE_DISPATCH_SECONDS = 10.0


@shared_task(acks_late=True)
def process_inbound_event_task(event_id: int) -> None:
    process_inbound_event(event_id=int(event_id))


@shared_task(acks_late=True)
def process_inbound_events_task(event_ids: list[int]) -> None:
    """The debounced inbox doorbell: the events one web process committed within a few ms,
    applied together where they can be (integrations/services/inbox/batch.py), else one by one."""
    with dispatch_inline(seconds=INLINE_DISPATCH_SECONDS):
        process_inbound_events(event_ids=[int(i) for i in event_ids], after_each=send_collected)


@shared_task(acks_late=True)
def dispatch_outbox_message_task(message_id: str) -> None:
    dispatch_outbox_message(message_id=uuid.UUID(message_id))


@shared_task(acks_late=True)
def sweep_due_work_task() -> dict:
    return sweep_due_work()


@shared_task(acks_late=True)
def poll_peers_task() -> dict:
    """Read what changed on peers without webhooks (beat: ``poll-peers``)."""
    return poll_all()


@shared_task
def ping_task() -> str:
    """Canary: answers when a worker consumes (readiness checks)."""
    return "pong"
