"""Replaying an outbox message: send a dead (or failed) message again.

``mapping``: ``"sent"`` (the default) sends the payload as it was built; ``"current"`` builds it
again from the records as they are now (the kind's rebuilder in ``outbox_rebuilders``: billing's
invoice postings and statuses), so a fix to a record or to how it is mapped reaches the peer.
``outbox_replay_preview`` shows both, and what differs, before anyone confirms.
"""

import uuid
from typing import Any

from django.db import transaction
from django.utils import timezone

from config.diffs import differences
from integrations.models import OutboxMessage
from integrations.registry import outbox_rebuilders, replay_filters, replay_guards
from integrations.services import dispatch
from integrations.services.traces import record_trace_step, use_trace

SENT, CURRENT = "sent", "current"
MAPPINGS = (SENT, CURRENT)


class ReplayRefused(Exception):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def rebuilt_payload(message: OutboxMessage) -> tuple[dict | None, str]:
    """(the payload built again now, "") or (None, why it cannot be)."""
    rebuild = outbox_rebuilders.get(message.kind)
    if rebuild is None:
        return None, f"{message.kind} has no builder to make it again: replay it as sent"
    payload = rebuild(message)
    if payload is None:
        return None, "the record it was built from is gone"
    return payload, ""


def outbox_replay_preview(*, message_id: uuid.UUID) -> dict:
    message = OutboxMessage.objects.get(pk=message_id)
    current, why = rebuilt_payload(message)
    return {
        "sent": message.payload,
        "current": current,
        "current_unavailable": why,
        "differences": differences(message.payload, current) if current is not None else [],
    }


def _guard(message_id: uuid.UUID, mapping: str, user: Any, approval: Any) -> None:
    """Before a replay with the payload built again: the kind's guard may hold it (a changed
    posted amount waits for a second person: billing's four eyes), outside any transaction so
    the request it records stays."""
    if mapping != CURRENT:
        return
    message = OutboxMessage.objects.get(pk=message_id)
    guard = replay_guards.get(message.kind)
    payload, _why = rebuilt_payload(message)
    if guard is None or payload is None:
        return
    refusal = guard(message, payload, user, approval)
    if refusal:
        raise ReplayRefused(refusal)


def replay_outbox_message(
    *, message_id: uuid.UUID, mapping: str = SENT, user: Any = None, approval: Any = None
) -> OutboxMessage:
    """Send a dead (or failed) message again. Earlier attempts stay in its history; a message
    already sent or being sent is left alone, so overlapping replays never double an effect.
    With ``mapping`` "current", the payload is built again first (ReplayRefused when it cannot
    be, or when the kind's guard holds it for ``user``: ``approval`` is the approved request
    that lets it go); the trace step keeps what changed."""
    _guard(message_id, mapping, user, approval)
    with transaction.atomic():
        message = OutboxMessage.objects.select_for_update().get(pk=message_id)
        if message.status not in (OutboxMessage.Status.DEAD, OutboxMessage.Status.FAILED):
            return message
        changed: list[dict] = []
        if mapping == CURRENT:
            payload, why = rebuilt_payload(message)
            if payload is None:
                raise ReplayRefused(why)
            changed, message.payload = differences(message.payload, payload), payload
        message.status, message.attempts, message.next_attempt_at = (
            OutboxMessage.Status.PENDING,
            0,
            timezone.now(),
        )
        message.replay_count += 1
        message.dead_at, message.enqueued_at = None, timezone.now()
        message.save()
        with use_trace(message.trace_id):
            record_trace_step(
                kind="outbound",
                action="replayed",
                summary=f"replay #{message.replay_count}"
                + (f", built again: {len(changed)} value(s) changed" if mapping == CURRENT else ""),
                subject=message,
                detail={"changed": changed[:50]} if changed else None,
            )
        transaction.on_commit(lambda: dispatch.publish_outbox_message(message.pk))
    return message


def replay_by_filter(*, filters: dict[str, str], mapping: str = SENT, user: Any = None) -> dict:
    """Replay every dead or failed message of the records the business filters name (all of
    them must hold: a customer and a period is that customer's invoices of that period). Each
    is replayed on its own; one that cannot be built again is left and reported."""
    keys: set[str] | None = None
    for name, value in filters.items():
        resolve = replay_filters.get(name)
        found = resolve(value) if resolve is not None else None
        if found is None:
            raise ReplayRefused(f"unknown {name} {value!r}" if resolve else f"no filter {name!r}")
        keys = set(found) if keys is None else keys & set(found)
    if keys is None:
        raise ReplayRefused("name at least one of: " + ", ".join(sorted(replay_filters.keys())))
    due = OutboxMessage.objects.filter(
        object_key__in=sorted(keys),
        status__in=(OutboxMessage.Status.DEAD, OutboxMessage.Status.FAILED),
    ).order_by("created_at")
    replayed, refused = [], []
    for message_id in due.values_list("pk", flat=True):
        try:
            message = replay_outbox_message(message_id=message_id, mapping=mapping, user=user)
            replayed.append(str(message.pk))
        except ReplayRefused as exc:
            refused.append({"id": str(message_id), "reason": exc.message})
    return {"replayed": replayed, "refused": refused}
