"""The outbox: every external effect, written with the domain change, delivered at least once.

Claiming is a conditional UPDATE (0 rows: another worker got there first, or the message is
not due); the connector is called outside any transaction; the result is written only if our
claim token still holds (a worker rescued by the sweeper cannot overwrite its successor).
"""

import contextlib
import contextvars
import logging
import time
import uuid
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.contrib.contenttypes.models import ContentType
from django.db import models, transaction
from django.utils import timezone

from config.errors import DomainError
from integrations import breakers
from integrations.connectors import ConnectorError, RateLimited, RetryableError, get_connector
from integrations.models import DeliveryAttempt, ExternalRef, ExternalSystem, OutboxMessage
from integrations.registry import dead_letter_hooks, delivery_hooks
from integrations.services.backoff import backoff_delay
from integrations.services.rows import insert_if_new
from integrations.traces import current_or_new_trace_id, record_trace_step, use_trace

logger = logging.getLogger(__name__)
UNSENT = (OutboxMessage.Status.PENDING, OutboxMessage.Status.SENDING, OutboxMessage.Status.FAILED)


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how patiently one kind of message is retried."""

    max_attempts: int
    backoff_base_seconds: float | None = None  # None: OUTBOX_BACKOFF_BASE_SECONDS
    backoff_cap_seconds: float = 3600


# By operation prefix; the longest matching prefix wins. Invoices get more patience than
# notifications because a lost invoice is lost money.
RETRY_POLICIES: dict[str, RetryPolicy] = {
    "erp.invoice.": RetryPolicy(max_attempts=12),
    "crm.event.publish": RetryPolicy(max_attempts=5),
    "psa.event.publish": RetryPolicy(max_attempts=5),
    "erp.event.publish": RetryPolicy(max_attempts=5),
}


def retry_policy(kind: str) -> RetryPolicy:
    matches = [prefix for prefix in RETRY_POLICIES if kind.startswith(prefix)]
    if matches:
        return RETRY_POLICIES[max(matches, key=len)]
    return RetryPolicy(max_attempts=settings.OUTBOX_MAX_ATTEMPTS)


class OutsideTransaction(DomainError):
    code = "outbox_outside_transaction"


def enqueue_outbox_message(
    *,
    system: ExternalSystem,
    kind: str,
    payload: dict,
    idempotency_key: str,
    object_key: str = "",
    local_object: models.Model | None = None,
    external_object_type: str = "",
) -> OutboxMessage:
    """Write one effect to send, in the caller's transaction; dispatch is queued on commit.

    Idempotent: the same ``idempotency_key`` returns the existing message and queues nothing.
    Raises OutsideTransaction when called outside ``transaction.atomic`` (the effect would no
    longer be tied to the domain change).
    """
    if not transaction.get_connection().in_atomic_block:
        raise OutsideTransaction(
            "enqueue_outbox_message must run inside the domain change's transaction"
        )
    now = timezone.now()
    message = OutboxMessage(
        system=system,
        kind=kind,
        payload=payload,
        idempotency_key=idempotency_key,
        object_key=object_key[:200],
        next_attempt_at=now,
        enqueued_at=now,
        max_attempts=retry_policy(kind).max_attempts,
        trace_id=current_or_new_trace_id(),
        content_type=ContentType.objects.get_for_model(local_object)
        if local_object is not None
        else None,
        object_id=str(local_object.pk) if local_object is not None else "",
        external_object_type=external_object_type,
    )
    if not insert_if_new(message):  # the unique idempotency key: this effect is already queued
        return OutboxMessage.objects.get(idempotency_key=idempotency_key)
    record_trace_step(
        kind="outbound",
        action="queued",
        summary=f"{kind} to {system.slug}",
        subject=message,
        trace_id=message.trace_id,
    )
    transaction.on_commit(lambda: _ring_doorbell(message.pk))
    return message


# Inline dispatch (`make bench`: a dispatch task per message cost a Celery publish and a task
# run per event). A worker applying a batch of inbound events (process_inbound_events_task)
# collects the messages those events wrote and sends them itself, right after the COMMIT that
# wrote them (send_collected), through the same claim (conditional UPDATE, claim token, lease)
# as the dispatch task, until its time budget is spent; after that, and everywhere else, the
# message's task is published as before. A worker that dies between the COMMIT and the claim
# loses only the doorbell (the sweeper re-queues the message after REQUEUE_AFTER_SECONDS),
# exactly like one that dies before publishing.
_inline: contextvars.ContextVar[tuple[float, list] | None] = contextvars.ContextVar(
    "outbox_inline", default=None
)


@contextlib.contextmanager
def dispatch_inline(*, seconds: float):
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
            _publish(message_id)


def send_collected() -> None:
    """Send the messages collected by dispatch_inline so far (call after their COMMIT)."""
    from integrations.services.batches import dispatch_outbox_messages

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
        _publish(message_id)


def _publish(message_id: uuid.UUID) -> None:
    from integrations.tasks import dispatch_outbox_message_task

    dispatch_outbox_message_task.delay(str(message_id))


def _ring_doorbell(message_id: uuid.UUID) -> None:
    inline = _inline.get()
    if inline is not None and time.monotonic() < inline[0]:
        inline[1].append(message_id)
        return
    _publish(message_id)


def claim_due(token: uuid.UUID, **which) -> int:
    """Claim the due messages among ``which`` (a filter) for ``token``: one conditional UPDATE
    (0 rows: another worker got there first, or nothing is due). Counts an attempt and sets a
    lease; returns how many were claimed."""
    now = timezone.now()
    return OutboxMessage.objects.filter(
        status__in=[OutboxMessage.Status.PENDING, OutboxMessage.Status.FAILED],
        next_attempt_at__lte=now,
        **which,
    ).update(
        status=OutboxMessage.Status.SENDING,
        claim_token=token,
        attempts=models.F("attempts") + 1,
        lease_expires_at=now + timedelta(seconds=settings.OUTBOX_LEASE_SECONDS),
    )


def _claim(message_id: uuid.UUID) -> tuple[OutboxMessage | None, uuid.UUID]:
    token = uuid.uuid4()
    claimed = claim_due(token, pk=message_id)
    if not claimed:
        return None, token
    return OutboxMessage.objects.select_related("system").get(pk=message_id), token


def _earlier_unsent_exists(message: OutboxMessage) -> bool:
    if not message.object_key:
        return False
    return OutboxMessage.objects.filter(
        system_id=message.system_id,
        object_key=message.object_key,
        status__in=UNSENT,
        created_at__lt=message.created_at,
    ).exists()


def _release(message: OutboxMessage, token: uuid.UUID, *, retry_at, reason: str) -> None:
    """Give a claim back without counting an attempt (ordering wait, open breaker)."""
    OutboxMessage.objects.filter(pk=message.pk, claim_token=token).update(
        status=OutboxMessage.Status.PENDING
        if message.attempts <= 1
        else OutboxMessage.Status.FAILED,
        attempts=models.F("attempts") - 1,
        claim_token=None,
        lease_expires_at=None,
        next_attempt_at=retry_at,
        enqueued_at=None,
        last_error=reason,
    )


def dispatch_outbox_message(*, message_id: uuid.UUID) -> OutboxMessage | None:
    """Deliver one due message. Idempotent and safe to run concurrently for the same id."""
    message, token = _claim(message_id)
    if message is None:
        return None
    with use_trace(message.trace_id):
        if _earlier_unsent_exists(message):
            # Messages to one external object keep their order: wait for the earlier one.
            _release(
                message,
                token,
                retry_at=timezone.now() + timedelta(seconds=2),
                reason="waiting for an earlier message to the same object",
            )
            return message
        permit = breakers.acquire_permit(system_id=message.system_id)
        if not permit.allowed:
            _release(
                message,
                token,
                retry_at=permit.retry_at,
                reason="breaker open: deferred without calling",
            )
            DeliveryAttempt.objects.create(
                message=message,
                number=message.attempts,
                started_at=timezone.now(),
                outcome=DeliveryAttempt.Outcome.DEFERRED,
                error="breaker open",
                replay_round=message.replay_count,
            )
            return message
        return _call_and_finish(message, token, is_probe=permit.is_probe)


def _call_and_finish(
    message: OutboxMessage, token: uuid.UUID, *, is_probe: bool = False
) -> OutboxMessage:
    started, clock = timezone.now(), time.monotonic()
    try:
        result = get_connector(message.system).deliver(
            message.kind, message.payload, idempotency_key=message.idempotency_key
        )
    except ConnectorError as exc:
        error = exc
        result = None
    else:
        error = None
    duration_ms = int((time.monotonic() - clock) * 1000)
    with transaction.atomic():
        current = (
            OutboxMessage.objects.select_for_update()
            .filter(pk=message.pk, claim_token=token)
            .first()
        )
        outcome = DeliveryAttempt.Outcome.SUCCESS if error is None else error.outcome
        if current is not None:
            current.system = message.system  # loaded by the claim: saves a query per message
        if current is None:
            # The sweeper rescued this claim while we were calling: our result is stale.
            DeliveryAttempt.objects.create(
                message=message,
                number=message.attempts,
                started_at=started,
                duration_ms=duration_ms,
                outcome=DeliveryAttempt.Outcome.STALE,
                error=str(error or ""),
                replay_round=message.replay_count,
            )
            return message
        DeliveryAttempt.objects.create(
            message=current,
            number=current.attempts,
            started_at=started,
            duration_ms=duration_ms,
            outcome=outcome,
            error=str(error or ""),
            replay_round=current.replay_count,
        )
        if error is None:
            _mark_sent(current, result)
        else:
            _mark_failed(current, error)
    if error is None:
        breakers.record_success(system_id=message.system_id)
    elif isinstance(error, RetryableError):
        breakers.record_failure(system_id=message.system_id, error=str(error))
    elif is_probe:
        # A probe answered with a refusal (permanent, auth, 429): the peer is up. Without this
        # the breaker stayed half-open, deferring every message, until the probe lease ran out.
        breakers.record_success(system_id=message.system_id)
    return current


SENT_FIELDS = [
    "status",
    "sent_at",
    "claim_token",
    "lease_expires_at",
    "external_id",
    "response",
    "last_error",
    "error_class",
]


def _mark_sent(message: OutboxMessage, result, *, save: bool = True, now=None) -> None:
    """Mark ``message`` sent with the connector's ``result`` (in the finishing transaction).
    With ``save=False`` the caller writes SENT_FIELDS itself (a batch: one UPDATE for all,
    with one ``now``)."""
    now = now or timezone.now()
    message.status, message.sent_at, message.claim_token, message.lease_expires_at = (
        OutboxMessage.Status.SENT,
        now,
        None,
        None,
    )
    message.external_id, message.response, message.last_error, message.error_class = (
        result.external_id,
        result.data,
        "",
        "",
    )
    if save:
        message.save(update_fields=SENT_FIELDS)
        after_sent(message, result)


def after_sent(message: OutboxMessage, result) -> None:
    """What follows a message's ``sent`` row: its ExternalRef, log, trace step, delivery hooks."""
    if message.external_object_type and message.content_type_id and result.external_id:
        ExternalRef.objects.update_or_create(
            system_id=message.system_id,
            object_type=message.external_object_type,
            external_id=result.external_id,
            defaults={
                "content_type_id": message.content_type_id,
                "object_id": message.object_id,
                "trace_id": message.trace_id,
            },
        )
    logger.info(
        "outbox.sent",
        extra={"message_id": str(message.pk), "kind": message.kind, "attempt": message.attempts},
    )
    record_trace_step(
        kind="outbound",
        action="sent",
        summary=f"{message.kind} delivered to {message.system.slug}"
        + (f" as {result.external_id}" if result.external_id else ""),
        subject=message,
        detail={"attempt": message.attempts},
    )
    for hook in delivery_hooks.values():
        hook(message)


def _mark_failed(message: OutboxMessage, error: ConnectorError) -> None:
    message.last_error, message.error_class = str(error)[:4000], error.outcome
    message.claim_token, message.lease_expires_at, message.enqueued_at = None, None, None
    gives_up = (
        not isinstance(error, RetryableError | RateLimited)
        or message.attempts >= message.max_attempts
    )
    if gives_up:
        message.status, message.dead_at = OutboxMessage.Status.DEAD, timezone.now()
    else:
        message.status = OutboxMessage.Status.FAILED
        if isinstance(error, RateLimited):
            delay = timedelta(seconds=error.retry_after)
        else:
            policy = retry_policy(message.kind)
            delay = backoff_delay(
                message.attempts, base=policy.backoff_base_seconds, cap=policy.backoff_cap_seconds
            )
        message.next_attempt_at = timezone.now() + delay
    message.save()
    record_trace_step(
        kind="outbound",
        action="dead" if gives_up else "failed",
        summary=f"{message.kind} to {message.system.slug}: {error}",
        subject=message,
        detail={"attempt": message.attempts, "error_class": error.outcome},
    )
    if gives_up:
        logger.error("outbox.dead", extra={"message_id": str(message.pk), "kind": message.kind})
        for hook in dead_letter_hooks.values():
            hook(message)


def replay_outbox_message(*, message_id: uuid.UUID) -> OutboxMessage:
    """Send a dead (or failed) message again. Earlier attempts stay in its history; a message
    already sent or being sent is left alone, so overlapping replays never double an effect."""
    from integrations.tasks import dispatch_outbox_message_task

    with transaction.atomic():
        message = OutboxMessage.objects.select_for_update().get(pk=message_id)
        if message.status not in (OutboxMessage.Status.DEAD, OutboxMessage.Status.FAILED):
            return message
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
                summary=f"replay #{message.replay_count}",
                subject=message,
            )
        transaction.on_commit(lambda: dispatch_outbox_message_task.delay(str(message.pk)))
    return message


def rescue_expired_claims() -> int:
    """Claims whose lease ran out (their worker died) go back to be retried; returns the count.

    A message whose worker died on every one of its ``max_attempts`` tries is poison (it kills or
    hangs its worker): it is dead-lettered instead of being retried forever (docs/reliability.md rule 2;
    before this, the crash loop never ended: found by tests/e2e/test_reliability.py's poison
    test).
    """
    now = timezone.now()
    expired = OutboxMessage.objects.filter(
        status=OutboxMessage.Status.SENDING, lease_expires_at__lt=now
    )
    for message_id in expired.filter(attempts__gte=models.F("max_attempts")).values_list(
        "pk", flat=True
    ):
        _dead_letter_crashed(message_id, now)
    return expired.filter(attempts__lt=models.F("max_attempts")).update(
        status=OutboxMessage.Status.FAILED,
        claim_token=None,
        lease_expires_at=None,
        next_attempt_at=now,
        enqueued_at=None,
        last_error="rescued: the worker holding the claim stopped answering",
    )


def _dead_letter_crashed(message_id: uuid.UUID, now) -> None:
    with transaction.atomic():
        message = (
            OutboxMessage.objects.select_for_update()
            .select_related("system")
            .filter(pk=message_id, status=OutboxMessage.Status.SENDING, lease_expires_at__lt=now)
            .first()
        )
        if message is None:  # finished or rescued by someone else meanwhile
            return
        message.status, message.dead_at, message.error_class = (
            OutboxMessage.Status.DEAD,
            now,
            "worker_lost",
        )
        message.last_error = (
            f"the worker died (or overran its lease) on each of {message.attempts} attempts"
        )
        message.claim_token, message.lease_expires_at, message.enqueued_at = None, None, None
        message.save()
        with use_trace(message.trace_id):
            record_trace_step(
                kind="outbound",
                action="dead",
                summary=f"{message.kind} to {message.system.slug}: {message.last_error}",
                subject=message,
                detail={"attempt": message.attempts, "error_class": message.error_class},
            )
        logger.error("outbox.dead", extra={"message_id": str(message.pk), "kind": message.kind})
        for hook in dead_letter_hooks.values():
            hook(message)
