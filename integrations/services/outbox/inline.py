"""Inline dispatch (`make bench`: a dispatch task per message cost a Celery publish and a task
run per event).

A worker applying a batch of inbound events (process_inbound_events_task) collects the messages
those events wrote and sends them itself, right after the COMMIT that wrote them
(send_collected), through the same claim (conditional UPDATE, claim token, lease) as the
dispatch task, until its time budget is spent; after that, and everywhere else, the message's
task is published as before. A worker that dies between the COMMIT and the claim loses only the
doorbell (the sweeper re-queues the message after REQUEUE_AFTER_SECONDS), exactly like one that
dies before publishing.
"""

import contextlib
import contextvars
import logging
import time
import uuid
from collections.abc import Iterator

from integrations.services import dispatch
from integrations.services.outbox.batch import dispatch_outbox_messages

logger = logging.getLogger("integrations.services.outbox")
_inline: contextvars.ContextVar[tuple[float, list[uuid.UUID]] | None] = contextvars.ContextVar(
    "outbox_inline", default=None
)


@contextlib.contextmanager
def dispatch_inline(*, seconds: float) -> Iterator[None]:
    """Within this block, messages committed by this thread are collected, and sent by
    send_collected() (and at the end of the block) while ``seconds`` have not passed."""
    collected: list[uuid.UUID] = []
    token = _inline.set((time.monotonic() + seconds, collected))
    try:
        yield
        send_collected()
    finally:
        _inline.reset(token)
        for message_id in collected:  # left by an exception: their tasks send them
            dispatch.publish_outbox_message(message_id)


def send_collected() -> None:
    """Send the messages collected by dispatch_inline so far (call after their COMMIT)."""
    inline = _inline.get()
    if inline is None or not inline[1]:
        return
    deadline, collected = inline
    message_ids = collected[:]
    collected.clear()
    if time.monotonic() < deadline:
        try:
            dispatch_outbox_messages(message_ids=message_ids)
            return
        except Exception:  # noqa: BLE001 fall back to the tasks: they claim (or find it done)
            logger.warning("outbox.inline_failed", exc_info=True, extra={"count": len(message_ids)})
    for message_id in message_ids:
        dispatch.publish_outbox_message(message_id)


def ring_outbox_doorbell(message_id: uuid.UUID) -> None:
    """Have ``message_id`` sent (call after its COMMIT): collected when inside dispatch_inline
    and within its budget, else its dispatch task is published."""
    inline = _inline.get()
    if inline is not None and time.monotonic() < inline[0]:
        inline[1].append(message_id)
        return
    dispatch.publish_outbox_message(message_id)
