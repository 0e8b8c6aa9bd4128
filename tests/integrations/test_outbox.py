"""The outbox in-process: typed connector errors decide retry, dead letter and breaker."""

from datetime import timedelta

import pytest
from django.db import transaction
from django.utils import timezone

from integrations.models import (
    CircuitBreaker,
    DeliveryAttempt,
    OutboxMessage,
    SandboxCall,
    SandboxRecord,
)
from integrations.services.outbox import (
    OutsideTransaction,
    dispatch_outbox_message,
    enqueue_outbox_message,
    replay_outbox_message,
    rescue_expired_claims,
)

pytestmark = pytest.mark.django_db


def _erp(systems):
    return systems["erp"][0]


def _queue(system, key="k1", object_key="", kind="erp.customer.upsert"):
    with transaction.atomic():
        return enqueue_outbox_message(
            system=system,
            kind=kind,
            payload={"throughline_id": "TL-000001", "legal_entity": "US", "name": "Acme"},
            idempotency_key=key,
            object_key=object_key,
        )


def _set_faults(system, **faults):
    system.settings = {"sandbox": faults}
    system.save()


@pytest.mark.django_db(transaction=True)
def test_enqueue_outside_a_transaction_is_refused(systems):
    with pytest.raises(OutsideTransaction):
        enqueue_outbox_message(
            system=_erp(systems), kind="erp.customer.upsert", payload={}, idempotency_key="x"
        )


def test_same_idempotency_key_is_one_message(systems):
    first, second = _queue(_erp(systems), "same"), _queue(_erp(systems), "same")
    assert first.pk == second.pk
    assert OutboxMessage.objects.count() == 1


def test_success_marks_sent_and_records_the_attempt(systems):
    message = dispatch_outbox_message(message_id=_queue(_erp(systems)).pk)
    assert message.status == OutboxMessage.Status.SENT
    assert message.external_id.startswith("CUS-")
    assert list(message.delivery_attempts.values_list("outcome", flat=True)) == ["success"]


def test_dispatching_a_sent_message_again_calls_nobody(systems):
    message = _queue(_erp(systems))
    dispatch_outbox_message(message_id=message.pk)
    assert dispatch_outbox_message(message_id=message.pk) is None
    assert SandboxCall.objects.count() == 1


def test_retryable_error_schedules_a_later_attempt(systems):
    _set_faults(_erp(systems), error_rate=1)
    message = dispatch_outbox_message(message_id=_queue(_erp(systems)).pk)
    assert message.status == OutboxMessage.Status.FAILED
    assert message.next_attempt_at > timezone.now()
    assert message.error_class == "retryable"
    # Not due yet: a second dispatch does not call the peer.
    dispatch_outbox_message(message_id=message.pk)
    assert SandboxCall.objects.count() == 1


def test_rate_limit_is_honoured(systems):
    _set_faults(_erp(systems), rate_limit_rate=1, retry_after=7)
    before = timezone.now()
    message = dispatch_outbox_message(message_id=_queue(_erp(systems)).pk)
    assert message.error_class == "rate_limited"
    assert message.next_attempt_at >= before + timedelta(seconds=7)
    assert CircuitBreaker.objects.get(system=_erp(systems)).consecutive_failures == 0


def test_permanent_error_is_dead_at_once_with_the_reason(systems):
    _set_faults(_erp(systems), permanent_operations=["erp.customer.upsert"])
    message = dispatch_outbox_message(message_id=_queue(_erp(systems)).pk)
    assert message.status == OutboxMessage.Status.DEAD
    assert "422" in message.last_error
    assert message.attempts == 1


def test_last_retryable_failure_dead_letters(systems, settings):
    _set_faults(_erp(systems), error_rate=1)
    message = _queue(_erp(systems))
    OutboxMessage.objects.filter(pk=message.pk).update(max_attempts=2)
    CircuitBreaker.objects.filter(system=_erp(systems)).update(failure_threshold=100)
    dispatch_outbox_message(message_id=message.pk)
    OutboxMessage.objects.filter(pk=message.pk).update(next_attempt_at=timezone.now())
    message = dispatch_outbox_message(message_id=message.pk)
    assert message.status == OutboxMessage.Status.DEAD
    assert message.delivery_attempts.count() == 2


def test_breaker_opens_after_threshold_and_defers_without_calling(systems):
    erp = _erp(systems)
    _set_faults(erp, error_rate=1)
    CircuitBreaker.objects.filter(system=erp).update(failure_threshold=3, recovery_seconds=300)
    for n in range(3):
        dispatch_outbox_message(message_id=_queue(erp, f"m{n}").pk)
    assert CircuitBreaker.objects.get(system=erp).state == CircuitBreaker.State.OPEN
    deferred = dispatch_outbox_message(message_id=_queue(erp, "m-late").pk)
    assert SandboxCall.objects.count() == 3  # the fourth was not called
    deferred.refresh_from_db()
    assert deferred.status == OutboxMessage.Status.PENDING and deferred.attempts == 0
    assert deferred.delivery_attempts.get().outcome == DeliveryAttempt.Outcome.DEFERRED


def test_half_open_probe_success_closes_the_breaker(systems):
    erp = _erp(systems)
    CircuitBreaker.objects.filter(system=erp).update(
        state=CircuitBreaker.State.OPEN, opened_at=timezone.now() - timedelta(seconds=600)
    )
    message = dispatch_outbox_message(message_id=_queue(erp).pk)
    assert message.status == OutboxMessage.Status.SENT
    assert CircuitBreaker.objects.get(system=erp).state == CircuitBreaker.State.CLOSED


def test_messages_to_one_object_keep_their_order(systems):
    erp = _erp(systems)
    first = _queue(erp, "create", object_key="invoice:1")
    second = _queue(erp, "update", object_key="invoice:1")
    held = dispatch_outbox_message(message_id=second.pk)
    held.refresh_from_db()
    assert held.status == OutboxMessage.Status.PENDING  # waits for the earlier one
    assert SandboxRecord.objects.count() == 0
    dispatch_outbox_message(message_id=first.pk)
    OutboxMessage.objects.filter(pk=second.pk).update(next_attempt_at=timezone.now())
    dispatch_outbox_message(message_id=second.pk)
    assert list(SandboxRecord.objects.values_list("idempotency_key", flat=True)) == [
        "create",
        "update",
    ]


def test_expired_claim_is_rescued_and_a_stale_finish_is_refused(systems):
    erp = _erp(systems)
    message = _queue(erp)
    OutboxMessage.objects.filter(pk=message.pk).update(
        status=OutboxMessage.Status.SENDING, lease_expires_at=timezone.now() - timedelta(seconds=1)
    )
    assert rescue_expired_claims() == 1
    message.refresh_from_db()
    assert message.status == OutboxMessage.Status.FAILED and message.claim_token is None


def test_replay_keeps_the_history_and_delivers_once(systems):
    erp = _erp(systems)
    _set_faults(erp, permanent_operations=["erp.customer.upsert"])
    message = dispatch_outbox_message(message_id=_queue(erp).pk)
    _set_faults(erp)
    replay_outbox_message(message_id=message.pk)
    replay_outbox_message(message_id=message.pk)  # overlapping replay: no second effect
    message = dispatch_outbox_message(message_id=message.pk)
    assert message.status == OutboxMessage.Status.SENT
    assert message.replay_count == 1
    outcomes = list(message.delivery_attempts.values_list("replay_round", "outcome"))
    assert outcomes == [(0, "permanent"), (1, "success")]
    assert SandboxRecord.objects.count() == 1
