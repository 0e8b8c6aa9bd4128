"""The inbox: receive signed webhooks (docs/contract.md §1) and apply them through registered handlers."""

import atexit
import json
import logging
import os
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime

from django.conf import settings
from django.core.cache import cache, caches
from django.core.cache.backends.redis import RedisCache
from django.db import IntegrityError, models, transaction
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from integrations.models import (
    ExternalSystem,
    InboundEvent,
    RejectedDelivery,
    SourceObjectState,
    TraceStep,
    WebhookSecret,
)
from integrations.registry import dead_letter_hooks, inbox_handlers, rejection_hooks
from integrations.services.backoff import backoff_delay
from integrations.services.rows import insert_if_new
from integrations.traces import build_trace_step, new_trace_id, record_trace_step, use_trace
from integrations.webhooks import signatures
from integrations.webhooks.schemas import DATA_SCHEMAS, OBJECT_KEYS, validate_data

logger = logging.getLogger(__name__)
KEPT_HEADERS = ("webhook-id", "webhook-timestamp", "content-type", "content-length", "user-agent")


@dataclass
class Receipt:
    """What the webhook endpoint answers."""

    status_code: int
    body: dict
    headers: dict = field(default_factory=dict)


def _reject(
    *,
    system: ExternalSystem | None,
    slug: str,
    reason: str,
    detail: str,
    headers: dict,
    body: bytes,
    remote_addr: str | None,
    keep_body: bool = True,
) -> None:
    RejectedDelivery.objects.create(
        system=system,
        system_slug=slug[:80],
        reason=reason,
        detail=detail[:300],
        webhook_id=headers.get("webhook-id", "")[:200],
        headers={k: v[:200] for k, v in headers.items() if k in KEPT_HEADERS},
        body_excerpt=body[:2000].decode("utf-8", "replace") if keep_body else "",
        body_size=len(body),
        remote_addr=remote_addr,
    )
    logger.warning("webhook.rejected", extra={"system": slug, "reason": reason, "detail": detail})


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
            count, _ = pipe.incrby(redis_key, pending).expire(redis_key, 90).execute()
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


# The system and its active secrets, per web process, for a few seconds: two queries saved on
# every delivery (`make bench`). A change saved through the ORM in this process (rotate or
# retire a secret, edit or deactivate a system, in the admin or a command) clears it at once;
# other processes see it within SYSTEM_CACHE_SECONDS.
SYSTEM_CACHE_SECONDS = 5.0
_systems: dict[str, tuple[float, ExternalSystem, list[str]]] = {}


@receiver(post_save, sender=ExternalSystem, dispatch_uid="inbox-systems-cache-system-saved")
@receiver(post_delete, sender=ExternalSystem, dispatch_uid="inbox-systems-cache-system-deleted")
@receiver(post_save, sender=WebhookSecret, dispatch_uid="inbox-systems-cache-secret-saved")
@receiver(post_delete, sender=WebhookSecret, dispatch_uid="inbox-systems-cache-secret-deleted")
def _forget_systems(**kwargs) -> None:
    _systems.clear()
    with _rate_lock:
        _rates.clear()  # a changed budget applies at once in this process


def _active_system(slug: str) -> tuple[ExternalSystem | None, list[str]]:
    cached = _systems.get(slug)
    if cached and cached[0] > time.monotonic():
        return cached[1], cached[2]
    system = (
        ExternalSystem.objects.filter(slug=slug, is_active=True).prefetch_related("secrets").first()
    )
    if system is None:
        return None, []  # unknown systems are not cached: adding one takes effect at once
    secrets = system.active_secret_values()
    _systems[slug] = (time.monotonic() + SYSTEM_CACHE_SECONDS, system, secrets)
    return system, secrets


def receive_webhook(
    *, slug: str, headers: dict[str, str], body: bytes, remote_addr: str | None
) -> Receipt:
    """Verify, record and queue one delivery. Never raises for bad input: answers it."""
    headers = {k.lower(): v for k, v in headers.items()}
    system, secrets = _active_system(slug)
    reject = {"slug": slug, "headers": headers, "body": body, "remote_addr": remote_addr}
    if system is None:
        _reject(
            system=None,
            reason=RejectedDelivery.Reason.UNKNOWN_SYSTEM,
            detail="unknown system",
            keep_body=False,
            **reject,
        )
        return Receipt(401, {"status": "rejected", "reason": f"unknown system {slug!r}"})
    if len(body) > settings.WEBHOOK_MAX_BODY_BYTES:
        _reject(
            system=system,
            reason=RejectedDelivery.Reason.TOO_LARGE,
            keep_body=False,
            detail=f"{len(body)} bytes > {settings.WEBHOOK_MAX_BODY_BYTES}",
            **reject,
        )
        return Receipt(
            413,
            {"status": "rejected", "reason": f"body over {settings.WEBHOOK_MAX_BODY_BYTES} bytes"},
        )
    retry_after = _rate_limited(system)
    if retry_after is not None:
        return Receipt(
            429,
            {"status": "rejected", "reason": "too many requests"},
            {"Retry-After": str(retry_after)},
        )
    try:
        signatures.verify(
            body=body,
            webhook_id=headers.get("webhook-id", ""),
            timestamp=headers.get("webhook-timestamp", ""),
            signature=headers.get("webhook-signature", ""),
            secrets=secrets,
            tolerance_seconds=settings.WEBHOOK_TOLERANCE_SECONDS,
        )
    except signatures.SignatureRejected as exc:
        _reject(system=system, reason=exc.reason, detail=exc.detail, **reject)
        return Receipt(401, {"status": "rejected", "reason": exc.detail})
    return _record_event(system=system, webhook_id=headers["webhook-id"], body=body)


def _parse(body: bytes) -> tuple[dict | None, int, str, dict]:
    """(payload, http status, reason, field errors); status 0 means valid."""
    try:
        payload = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return None, 400, "body is not valid JSON", {}
    if not isinstance(payload, dict):
        return None, 400, "body is not a JSON object", {}
    event_type = payload.get("type")
    if not event_type or not isinstance(event_type, str):
        return payload, 400, "no event type: the body needs a string 'type'", {}
    if event_type not in DATA_SCHEMAS:
        return payload, 400, f"unknown event type {event_type!r}", {}
    errors: dict[str, list[str]] = {}
    if (
        not isinstance(payload.get("timestamp"), str)
        or parse_datetime(payload["timestamp"]) is None
    ):
        errors["timestamp"] = ["An ISO 8601 date-time is required."]
    if not isinstance(payload.get("data"), dict):
        errors["data"] = ["An object is required."]
    else:
        errors.update(validate_data(event_type, payload["data"]))
    if errors:
        return payload, 422, "data does not match the schema of " + event_type, errors
    return payload, 0, "", {}


def received_summary(event: InboundEvent) -> str:
    """The summary of an event's first trace step ("received" or "rejected")."""
    return f"{event.system.slug} {event.event_type or 'event'} {event.webhook_id}"


def build_received_step(event: InboundEvent):
    """The step "received" of an accepted event, dated received_at (unsaved: its worker writes
    it with the first outcome, see _record_event)."""
    return build_trace_step(
        kind="event",
        action="received",
        summary=received_summary(event),
        subject=event,
        trace_id=event.trace_id,
        at=event.received_at,
    )


def _event_step(event: InboundEvent, **step) -> None:
    """Record one trace step of ``event`` (its subject); on the event's first attempt, the step
    "received" (not written on receive: see _record_event), dated received_at, goes in the same
    INSERT."""
    if not getattr(event, "_received_step_pending", False):
        record_trace_step(subject=event, **step)
        return
    event._received_step_pending = False
    received = build_received_step(event)
    TraceStep.objects.bulk_create(
        [s for s in (received, build_trace_step(subject=event, **step)) if s]
    )


def _record_event(*, system: ExternalSystem, webhook_id: str, body: bytes) -> Receipt:
    trace_id = new_trace_id()
    payload, status_code, reason, errors = _parse(body)
    event_type = (payload or {}).get("type") if isinstance((payload or {}).get("type"), str) else ""
    event = InboundEvent(
        system=system,
        webhook_id=webhook_id[:200],
        event_type=event_type[:80],
        payload=payload,
        raw_body="" if payload is not None else body[:10000].decode("utf-8", "replace"),
        trace_id=trace_id,
        enqueued_at=timezone.now(),
    )
    if status_code:
        event.status, event.error, event.error_details = (
            InboundEvent.Status.REJECTED,
            reason,
            errors,
        )
    else:
        event.occurred_at = parse_datetime(payload["timestamp"])
        event.object_key = OBJECT_KEYS[event_type](payload["data"])[:200]
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
        # Rejected: the row, its trace step and the rejection hooks' writes, all or none.
        with transaction.atomic(durable=True):
            is_new = insert_if_new(event)
            if is_new:
                with use_trace(trace_id):
                    record_trace_step(
                        kind="event",
                        action="rejected",
                        summary=received_summary(event),
                        subject=event,
                        detail={"reason": reason},
                    )
                    for hook in rejection_hooks.values():
                        hook(event)
    if not is_new:
        # INSERT … ON CONFLICT DO NOTHING gave no row back: this webhook-id was stored by an
        # earlier delivery, so this one is a duplicate (no exception, no work).
        first = InboundEvent.objects.only("trace_id").get(
            system=system, webhook_id=event.webhook_id
        )
        return Receipt(200, {"id": webhook_id, "status": "duplicate", "trace_id": first.trace_id})
    if status_code:
        body_out = {"id": webhook_id, "status": "rejected", "reason": reason, "trace_id": trace_id}
        if errors:
            body_out["errors"] = errors
        return Receipt(status_code, body_out)
    return Receipt(202, {"id": webhook_id, "status": "accepted", "trace_id": trace_id})


# The inbox doorbell, debounced (`make bench`: one Celery publish per delivery cost about the
# bare view's whole work). Each process buffers the ids of the events it committed; one
# long-lived thread of the process publishes them as one task at most every DOORBELL_SECONDS: at
# once when the last publish is older than that, else at the end of the interval. A request never
# publishes itself (no broker round trip, no thread started, nothing to fail in the request that
# answered 202: `make bench`). Every id is published after its COMMIT (docs/reliability.md rule 7) and
# lands in exactly one task. A process that dies with ids still buffered (at most
# DOORBELL_SECONDS of them; an exiting process flushes them) loses only their doorbell, and a
# broker that refuses the publish loses it too: the sweeper re-queues received events whose
# doorbell is older than REQUEUE_AFTER_SECONDS.
DOORBELL_SECONDS = 0.025
DOORBELL_MAX_BATCH = 100


class _Doorbell:
    def __init__(self) -> None:
        self._wake = threading.Condition(threading.Lock())
        self._ids: list[int] = []
        self._thread: threading.Thread | None = None
        self._pid = 0

    def ring(self, event_id: int) -> None:
        with self._wake:
            self._ids.append(event_id)
            # A forked process (a gunicorn or Celery child) does not inherit the thread.
            if self._pid != os.getpid() or self._thread is None or not self._thread.is_alive():
                self._pid = os.getpid()
                self._thread = threading.Thread(
                    target=self._run, name="inbox-doorbell", daemon=True
                )
                self._thread.start()
            self._wake.notify()

    def _run(self) -> None:
        last = 0.0
        while True:
            with self._wake:
                while not self._ids:
                    self._wake.wait()
            wait = last + DOORBELL_SECONDS - time.monotonic()
            if wait > 0:
                time.sleep(wait)  # ids committed meanwhile join this task
            last = time.monotonic()
            self.flush()

    def flush(self) -> None:
        from integrations.tasks import process_inbound_events_task

        with self._wake:
            ids, self._ids = self._ids, []
        for start in range(0, len(ids), DOORBELL_MAX_BATCH):
            try:
                process_inbound_events_task.delay(ids[start : start + DOORBELL_MAX_BATCH])
            except Exception:  # noqa: BLE001 the broker is down: the sweeper re-queues them
                logger.exception("inbox.doorbell_failed", extra={"event_ids": ids[start:][:10]})


_doorbell = _Doorbell()
atexit.register(_doorbell.flush)


def ring_inbox_doorbell(event_id: int) -> None:
    """Queue ``event_id`` to be applied (call after COMMIT)."""
    from integrations.tasks import process_inbound_events_task

    if process_inbound_events_task.app.conf.task_always_eager:
        process_inbound_events_task.delay([event_id])
        return
    _doorbell.ring(event_id)


def _apply_in_order(event: InboundEvent) -> bool:
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
    if state.last_applied_at and event.occurred_at and event.occurred_at < state.last_applied_at:
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
                    return _record_failure(
                        event, f"the worker died while applying this event, {event.attempts} times"
                    )
                event.attempts += 1  # replayed between the count and the lock: count it here
            return _process_locked(event)


def _process_locked(event: InboundEvent) -> InboundEvent:
    now = timezone.now()  # the attempt was counted by process_inbound_event
    handler = inbox_handlers.get(event.event_type)
    if handler is None:
        event.status, event.error = (
            InboundEvent.Status.UNHANDLED,
            f"no handler is registered for {event.event_type}",
        )
        event.save(update_fields=["status", "error", "attempts"])
        logger.error(
            "inbox.unhandled", extra={"event_id": event.pk, "event_type": event.event_type}
        )
        _event_step(event, kind="event", action="unhandled", summary=event.error)
        return event
    try:
        with transaction.atomic():
            if not _apply_in_order(event):
                event.status = InboundEvent.Status.SUPERSEDED
                event.error = "a newer event of the same object was already applied"
                event.processed_at = now
                event.save(update_fields=["status", "error", "processed_at", "attempts"])
                _event_step(event, kind="event", action="superseded", summary=event.error)
                return event
            handler(event)
    except Exception as exc:  # noqa: BLE001 boundary: any handler failure is recorded and retried
        logger.warning("inbox.handler_failed", exc_info=True, extra={"event_id": event.pk})
        return _record_failure(event, f"{type(exc).__name__}: {exc}")
    event.status, event.error, event.processed_at, event.next_attempt_at = (
        InboundEvent.Status.PROCESSED,
        "",
        now,
        None,
    )
    event.save(update_fields=["status", "error", "processed_at", "next_attempt_at", "attempts"])
    logger.info("inbox.processed", extra={"event_id": event.pk, "event_type": event.event_type})
    _event_step(event, kind="event", action="processed", summary=f"{event.event_type} applied")
    return event


def _record_failure(event: InboundEvent, error: str) -> InboundEvent:
    event.error = error[:4000]
    if event.attempts >= settings.INBOX_MAX_ATTEMPTS:
        event.status, event.next_attempt_at = InboundEvent.Status.DEAD, None
        _event_step(
            event,
            kind="event",
            action="dead",
            summary=f"gave up after {event.attempts} attempts: {error}",
        )
    else:
        event.status = InboundEvent.Status.FAILED
        event.next_attempt_at = timezone.now() + backoff_delay(event.attempts)
        event.enqueued_at = None
        _event_step(event, kind="event", action="failed", summary=error)
    event.save(update_fields=["status", "error", "next_attempt_at", "enqueued_at", "attempts"])
    if event.status == InboundEvent.Status.DEAD:
        for hook in dead_letter_hooks.values():
            hook(event)
    return event


def replay_event(*, event_id: int) -> InboundEvent:
    """Put an event back to be applied again (after a fix). Keeps its history in the trace.

    A rejected event is parsed and validated again from what was received.
    """
    from integrations.tasks import process_inbound_event_task

    with transaction.atomic():
        event = InboundEvent.objects.select_for_update().get(pk=event_id)
        if event.status == InboundEvent.Status.REJECTED and event.payload is not None:
            body = json.dumps(event.payload).encode()
            _payload, status_code, reason, errors = _parse(body)
            if status_code:
                event.error, event.error_details = reason, errors
                event.save(update_fields=["error", "error_details"])
                with use_trace(event.trace_id):
                    record_trace_step(
                        kind="event", action="replay_refused", summary=reason, subject=event
                    )
                return event
            event.occurred_at = parse_datetime(event.payload["timestamp"])
            event.object_key = OBJECT_KEYS[event.event_type](event.payload["data"])[:200]
        event.status, event.attempts, event.error, event.error_details = (
            InboundEvent.Status.RECEIVED,
            0,
            "",
            {},
        )
        event.next_attempt_at, event.enqueued_at = None, timezone.now()
        event.replay_count += 1
        event.save()
        with use_trace(event.trace_id):
            record_trace_step(
                kind="event",
                action="replayed",
                summary=f"replay #{event.replay_count}",
                subject=event,
            )
        transaction.on_commit(lambda: process_inbound_event_task.delay(event.pk))
    return event


def due_events(now: datetime):
    return InboundEvent.objects.filter(status=InboundEvent.Status.FAILED, next_attempt_at__lte=now)
