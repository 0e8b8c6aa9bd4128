"""Receiving a signed webhook (docs/contract.md §1): verify, parse, store once, ring the doorbell."""

import json
import logging
import threading
import time
from dataclasses import dataclass, field
from typing import TypedDict

from django.conf import settings
from django.core.cache import cache, caches
from django.core.cache.backends.redis import RedisCache
from django.db import transaction
from django.utils import timezone

from integrations.connectors import signatures
from integrations.connectors.dates import calendar_errors, read_datetime
from integrations.connectors.schemas import DATA_SCHEMAS, OBJECT_KEYS, validate_data
from integrations.models import ExternalSystem, InboundEvent, RejectedDelivery
from integrations.models.inbox import base64_of
from integrations.models.rows import insert_if_new
from integrations.registry import rejection_hooks
from integrations.selectors import received_summary
from integrations.services.inbox.active_systems import active_system
from integrations.services.inbox.active_systems import forget as forget_active_systems
from integrations.services.inbox.doorbell import ring_inbox_doorbell
from integrations.services.inbox.guards import decode_json, header_problem, storable
from integrations.services.inbox.refusals import (
    KEPT_HEADERS,
    count_over_system_budget,
    count_unreadable_secrets,
    refuse,
)
from integrations.services.traces import new_trace_id, record_trace_step, use_trace

logger = logging.getLogger("integrations.services.inbox")
__all__ = ["KEPT_HEADERS", "Receipt", "parse_delivery", "receive_webhook", "record_pulled_event"]


@dataclass
class Receipt:
    """What the webhook endpoint answers."""

    status_code: int
    body: dict
    headers: dict = field(default_factory=dict)


class _Delivery(TypedDict):
    """What every refusal of one delivery records about it (``refuse``'s shared arguments)."""

    slug: str
    headers: dict[str, str]
    body: bytes
    remote_addr: str | None


def _refused(
    receipt: Receipt,
    *,
    system: ExternalSystem | None,
    reason: str,
    detail: str,
    delivery: _Delivery,
    keep_body: bool = True,
) -> Receipt:
    """Record a refusal and answer it, or 429 when its address is over its budget."""
    retry_after = refuse(
        system=system, reason=reason, detail=detail, keep_body=keep_body, **delivery
    )
    if retry_after is None:
        return receipt
    return Receipt(
        429,
        {"status": "rejected", "reason": "too many refused deliveries from this address"},
        {"Retry-After": str(retry_after)},
    )


# The per-system budget is counted in Redis (shared by every web process), approximately: each
# process counts locally and adds its count to the shared counter (one round trip) every
# RATE_SYNC_EVERY deliveries or RATE_SYNC_SECONDS, and on every delivery once its estimate is
# within RATE_SYNC_EVERY of the limit (so small limits are exact). A process can admit at most
# one sync interval's worth of deliveries past the limit (docs/decisions/0001 item 3).
RATE_SYNC_EVERY = 25
RATE_SYNC_SECONDS = 0.1
_rate_lock = threading.Lock()
_rates: dict[int, list] = {}  # system pk → [window key, last shared total, unsynced, synced at]


def _rate_limited(system: ExternalSystem) -> int | None:
    """Seconds to wait when the system is over its per-minute budget, else None.

    A fixed one-minute window in the shared cache (Redis when configured), so every web
    process counts together.
    """
    limit = system.rate_limit_per_minute or settings.WEBHOOK_RATE_LIMIT_PER_MINUTE
    now = timezone.now()
    key = f"webhook-rate:{system.pk}:{now:%Y%m%d%H%M}"
    backend = caches["default"]  # `cache` is a proxy: isinstance needs the backend itself
    if isinstance(backend, RedisCache):
        clock = time.monotonic()
        with _rate_lock:
            state = _rates.get(system.pk)
            if state is None or state[0] != key:  # a new window (unsynced counts dropped)
                state = _rates[system.pk] = [key, 0, 0, clock]
            state[2] += 1
            if (
                state[2] < RATE_SYNC_EVERY
                and clock - state[3] < RATE_SYNC_SECONDS
                and state[1] + state[2] + RATE_SYNC_EVERY < limit
            ):
                return None  # well under the budget: counted locally
            pending, state[2], state[3] = state[2], 0, clock
        # INCRBY creates the counter, EXPIRE bounds it: one round trip; same key and integer
        # value as cache.incr would use.
        redis_key = backend.make_and_validate_key(key)
        try:
            pipe = backend._cache.get_client(redis_key, write=True).pipeline(transaction=False)
            # Staged one by one (a pipeline queues each command and returns itself): redis-py
            # types incrby/expire as the client's, returning their results, not the pipeline.
            pipe.incrby(redis_key, pending)
            pipe.expire(redis_key, 90)
            count, _ = pipe.execute()
        except Exception:  # noqa: BLE001 the shared counter is down: admit, never lose events
            # The budget protects Throughline; the inbox is what the sender relies on. Without
            # Redis the delivery is still stored and answered (202), counted locally only.
            logger.warning("webhook.rate_limit_unavailable", exc_info=True)
            return None
        with _rate_lock:
            if _rates.get(system.pk) is state:
                state[1] = count
    else:
        cache.add(key, 0, timeout=90)
        try:
            count = cache.incr(key)
        except ValueError:  # expired between add and incr
            cache.set(key, 1, timeout=90)
            count = 1
    if count > limit:
        return 60 - now.second
    return None


UNREADABLE_RETRY_AFTER = 60


def forget_cached_systems() -> None:
    """Drop this process's cached systems and rate counts (a system or secret was saved:
    integrations/handlers.py)."""
    forget_active_systems()
    with _rate_lock:
        _rates.clear()  # a changed budget applies at once in this process


def receive_webhook(
    *, slug: str, headers: dict[str, str], body: bytes, remote_addr: str | None
) -> Receipt:
    """Verify, record and queue one delivery. Never raises for bad input: answers it (a 4xx
    with a reason, every one recorded: docs/contract.md §1 "Answers"; a 503 when this server
    cannot decrypt the system's secrets: docs/security.md "Secrets at rest")."""
    headers = {k.lower(): v for k, v in headers.items()}
    system, secrets = active_system(slug)
    delivery = _Delivery(slug=slug, headers=headers, body=body, remote_addr=remote_addr)
    refused = _unverifiable(system, delivery)
    if refused is not None:
        return refused
    assert system is not None  # _unverifiable refuses an unknown system
    try:
        signatures.verify(
            body=body,
            webhook_id=headers.get("webhook-id", ""),
            timestamp=headers.get("webhook-timestamp", ""),
            signature=headers.get("webhook-signature", ""),
            secrets=secrets or [],
            tolerance_seconds=settings.WEBHOOK_TOLERANCE_SECONDS,
        )
    except signatures.SignatureRejected as exc:
        if secrets is None and isinstance(exc, signatures.NoSignatureMatched):
            # Well formed and timely, but this server has no secret to check it against.
            return _unreadable(system, headers["webhook-id"])
        return _refused(
            Receipt(401, {"status": "rejected", "reason": exc.detail}),
            system=system,
            reason=exc.reason,
            detail=exc.detail,
            delivery=delivery,
        )
    # Counted only now: forged requests naming the system cannot spend its budget.
    retry_after = _rate_limited(system)
    if retry_after is not None:
        count_over_system_budget(system)
        return Receipt(
            429,
            {"status": "rejected", "reason": "too many requests"},
            {"Retry-After": str(retry_after)},
        )
    return _record_event(system=system, webhook_id=headers["webhook-id"], body=body, delivered=True)


def _unreadable(system: ExternalSystem, webhook_id: str) -> Receipt:
    """503: the system's signing secrets do not decrypt here (THROUGHLINE_CREDENTIALS_KEYS lost
    a key), so no signature can be checked. This server's fault, not the sender's: a 4xx would
    tell it to stop, a 503 tells it to retry (Standard Webhooks senders do) once the key is
    back. Counted per system and minute; not charged to the sender's address."""
    count_unreadable_secrets(system, webhook_id)
    return Receipt(
        503,
        {
            "status": "unavailable",
            "reason": "this server cannot read the signing secrets of this system (a "
            "configuration fault on our side, not the sender's); retry later",
        },
        {"Retry-After": str(UNREADABLE_RETRY_AFTER)},
    )


def _unverifiable(system: ExternalSystem | None, delivery: _Delivery) -> Receipt | None:
    """The answer to a delivery whose signature cannot be checked (no such system, a body over
    the limit, malformed signature headers), recorded; None when it can be."""
    if system is None:
        reason = f"unknown system {storable(delivery['slug'][:80])!r}"
        return _refused(
            Receipt(401, {"status": "rejected", "reason": reason}),
            system=None,
            reason=RejectedDelivery.Reason.UNKNOWN_SYSTEM,
            detail="unknown system",
            delivery=delivery,
            keep_body=False,
        )
    limit, size = settings.WEBHOOK_MAX_BODY_BYTES, len(delivery["body"])
    if size > limit:
        return _refused(
            Receipt(413, {"status": "rejected", "reason": f"body over {limit} bytes"}),
            system=system,
            reason=RejectedDelivery.Reason.TOO_LARGE,
            detail=f"{size} bytes > {limit}",
            delivery=delivery,
            keep_body=False,
        )
    problem = header_problem(delivery["headers"])
    if problem:
        return _refused(
            Receipt(400, {"status": "rejected", "reason": problem}),
            system=system,
            reason=RejectedDelivery.Reason.HEADERS,
            detail=problem,
            delivery=delivery,
        )
    return None


def parse_delivery(body: bytes) -> tuple[dict | None, int, str, dict]:
    """(payload, http status, reason, field errors); status 0 means valid. The payload is None
    when the body cannot be stored as JSON (not UTF-8 or JSON, too deep, NUL, a lone surrogate,
    a number jsonb cannot hold: guards.decode_json)."""
    payload, refused = decode_json(body)
    if refused is not None:
        return None, *refused
    if not isinstance(payload, dict):
        return None, 400, "body is not a JSON object", {}
    event_type = payload.get("type")
    if not event_type or not isinstance(event_type, str):
        return payload, 400, "no event type: the body needs a string 'type'", {}
    if event_type not in DATA_SCHEMAS:
        return payload, 400, f"unknown event type {event_type[:80]!r}", {}
    errors: dict[str, list[str]] = {}
    timestamp = payload.get("timestamp")
    if not isinstance(timestamp, str):
        errors["timestamp"] = ["An ISO 8601 date-time is required."]
    elif problem := read_datetime(timestamp)[1]:
        errors["timestamp"] = [problem]
    data = payload.get("data")
    if not isinstance(data, dict):
        errors["data"] = ["An object is required."]
    else:
        errors.update(validate_data(event_type, data))
        for path, problems in calendar_errors(event_type, data).items():
            errors.setdefault(path, problems)  # a value the schema refused: its words only
    if errors:
        return payload, 422, "data does not match the schema of " + event_type, errors
    return payload, 0, "", {}


def _record_event(
    *,
    system: ExternalSystem,
    webhook_id: str,
    body: bytes,
    delivered: bool = False,
    evidence: bytes | None = None,
) -> Receipt:
    """Store one delivery once (accepted, or rejected with its reason) and answer it; a
    ``delivered`` one keeps its raw bytes as evidence (a pulled event has none; a translated
    one keeps what it was translated from: ``evidence``)."""
    payload, status_code, reason, errors = parse_delivery(body)
    event = _event_of(system, webhook_id, body if delivered else evidence, payload)
    trace_id = event.trace_id
    if status_code:
        event.status, event.error, event.error_details = (
            InboundEvent.Status.REJECTED,
            reason,
            errors,
        )
    else:
        assert payload is not None  # status 0: parse_delivery found a valid JSON object
        event.occurred_at = read_datetime(payload["timestamp"])[0]
        event.object_key = OBJECT_KEYS[event.event_type](payload["data"])[:200]
    if not status_code:
        # Accepted: one statement, no transaction. A single INSERT … ON CONFLICT DO NOTHING in
        # autocommit is atomic on its own (the row is stored whole or not at all, and is
        # committed when it returns), so BEGIN and COMMIT would only add two round trips
        # (`make bench`). No trace step is written here either (one INSERT less per delivery):
        # the step "received" is the event row itself. The worker stores it, dated
        # received_at, when it first applies the event; until then the trace selector derives
        # it from the row (integrations/selectors.py list_trace_steps).
        is_new = insert_if_new(event)
        if is_new:
            # Outside any atomic block (a web request) on_commit rings at once, the row being
            # committed; inside a caller's (a test's) atomic block it waits for that COMMIT.
            transaction.on_commit(lambda: ring_inbox_doorbell(event.pk))
    else:
        is_new = _store_rejected(event, reason)
    if not is_new:
        # INSERT … ON CONFLICT DO NOTHING gave no row back: this webhook-id was stored by an
        # earlier delivery, so this one is a duplicate (no exception, no work).
        first = InboundEvent.objects.only("trace_id").get(
            system=system, webhook_id=event.webhook_id
        )
        return Receipt(200, {"id": webhook_id, "status": "duplicate", "trace_id": first.trace_id})
    if status_code:
        body_out: dict[str, object] = {
            "id": webhook_id,
            "status": "rejected",
            "reason": reason,
            "trace_id": trace_id,
        }
        if errors:
            body_out["errors"] = errors
        return Receipt(status_code, body_out)
    return Receipt(202, {"id": webhook_id, "status": "accepted", "trace_id": trace_id})


def _event_of(
    system: ExternalSystem, webhook_id: str, raw: bytes | None, payload: dict | None
) -> InboundEvent:
    raw_type = (payload or {}).get("type")
    return InboundEvent(
        system=system,
        webhook_id=webhook_id,
        event_type=raw_type[:80] if isinstance(raw_type, str) else "",
        payload=payload,
        raw_body=""
        if payload is not None or raw is None
        else storable(raw[:10000].decode("utf-8", "replace")),
        raw_base64=base64_of(raw),
        trace_id=new_trace_id(),
        enqueued_at=timezone.now(),
    )


def _store_rejected(event: InboundEvent, reason: str) -> bool:
    """Rejected: the row, its trace step and the rejection hooks' writes, all or none."""
    with transaction.atomic(durable=True):
        is_new = insert_if_new(event)
        if is_new:
            with use_trace(event.trace_id):
                record_trace_step(
                    kind="event",
                    action="rejected",
                    summary=received_summary(event),
                    subject=event,
                    detail={"reason": reason},
                )
                for hook in rejection_hooks.values():
                    hook(event)
    return is_new


def record_pulled_event(
    *,
    system: ExternalSystem,
    key: str,
    event_type: str,
    data: dict,
    occurred_at: str,
    prefix: str = "pull",
    evidence: bytes | None = None,
) -> Receipt:
    """A change read from a peer without webhooks (a poll), or translated from its own format
    (a Salesforce Outbound Message: ``prefix`` "om", ``evidence`` the notification), recorded
    as a delivery of the canonical event would be: the same schema check, once-only store (the
    webhook id ``<prefix>:<key>`` is stable per change: one read twice is a duplicate), doorbell,
    ordering and handlers. No signature check: Throughline itself read or translated it."""
    body = json.dumps(
        {"type": event_type, "timestamp": occurred_at, "data": data}, separators=(",", ":")
    ).encode()
    return _record_event(
        system=system, webhook_id=f"{prefix}:{key}"[:200], body=body, evidence=evidence
    )
