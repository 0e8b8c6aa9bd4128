"""A batch of events applied together and its messages sent together (the doorbell task's
path): the same outcomes as one at a time (statuses, per-object order, traces, exactly one
effect each, failures isolated), with a fraction of the statements."""

from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from integrations.models import (
    CircuitBreaker,
    DeliveryAttempt,
    ExternalSystem,
    InboundEvent,
    OutboxMessage,
    SandboxCall,
    SandboxRecord,
    TraceStep,
)
from integrations.registry import inbox_handlers
from integrations.services.inbox import receive as inbox_receive
from integrations.services.outbox import dispatch_outbox_messages, enqueue_outbox_message
from integrations.services.systems import get_system_for_kind
from integrations.tasks import process_inbound_events_task
from tests.helpers import envelope, post_event, time_entry_data

# The batch commits (attempt count, then the batch) and sends after COMMIT: real transactions.
pytestmark = pytest.mark.django_db(transaction=True)


# What erp.time_entry.record carries of an approval (integrations/connectors/operations/erp.py).
TIME_RECORD_KEYS = ("time_entry_id", "project_id", "phase_code", "person_email", "role")
TIME_RECORD_KEYS += ("work_date", "hours", "billable")


def record_on_erp(event):
    """A runtime-only handler: one ERP effect per approval, written in the event's transaction."""
    data = event.payload["data"]
    if data["notes"] == "explode":
        raise RuntimeError("ERP mapping table is empty")
    enqueue_outbox_message(
        system=get_system_for_kind("erp"),
        kind="erp.time_entry.record",
        payload={**{name: data[name] for name in TIME_RECORD_KEYS}, "legal_entity": None},
        idempotency_key=f"erp.time_entry.record:{data['time_entry_id']}:{data['approved_at']}",
        object_key=f"time_entry:{data['time_entry_id']}",
    )


@pytest.fixture
def erp_recorder(monkeypatch, systems):
    monkeypatch.setitem(inbox_handlers._items, "psa.time_entry.approved", record_on_erp)
    # Keep received events waiting (no eager doorbell), as a queue does before a worker takes them.
    monkeypatch.setattr(inbox_receive, "ring_inbox_doorbell", lambda event_id: None)
    return systems


def receive(client, secret, *, timestamp=None, **data) -> int:
    response = post_event(
        client,
        "psa",
        secret,
        envelope("psa.time_entry.approved", time_entry_data(**data), timestamp=timestamp),
    )
    assert response.status_code == 202, response.content
    return InboundEvent.objects.get(webhook_id=response.json()["id"]).pk


def test_a_batch_applies_each_event_once_and_delivers_each_effect_once(
    client, psa_secret, erp_recorder
):
    ids = [receive(client, psa_secret, time_entry_id=f"TE-B{n}") for n in range(20)]
    with CaptureQueriesContext(connection) as queries:
        process_inbound_events_task(ids)

    events = InboundEvent.objects.filter(pk__in=ids)
    assert {(e.status, e.attempts) for e in events} == {(InboundEvent.Status.PROCESSED, 1)}
    messages = OutboxMessage.objects.all()
    assert messages.count() == 20
    assert {m.status for m in messages} == {OutboxMessage.Status.SENT}
    assert SandboxRecord.objects.filter(system__slug="erp").count() == 20
    assert SandboxCall.objects.filter(system__slug="erp", outcome="created").count() == 20
    assert DeliveryAttempt.objects.filter(outcome=DeliveryAttempt.Outcome.SUCCESS).count() == 20
    assert CircuitBreaker.objects.get(system__slug="erp").window_calls == 20
    # Each event's trace tells its story in order, as when events are applied one at a time.
    event = events.get(pk=ids[3])
    steps = list(TraceStep.objects.filter(trace_id=event.trace_id).values_list("kind", "action"))
    assert steps == [
        ("event", "received"),
        ("outbound", "queued"),
        ("event", "processed"),
        ("outbound", "sent"),
    ]
    # One at a time this took 36 statements an event; the handler's own INSERT and the sandbox
    # peer's 2 remain per event, the runtime's bookkeeping is shared by the batch.
    assert len(queries) <= 3 * len(ids) + 30, len(queries)


def test_events_of_one_object_in_one_batch_apply_in_timestamp_order(
    client, psa_secret, erp_recorder
):
    later = datetime(2026, 11, 3, 10, tzinfo=UTC)
    newer = receive(
        client, psa_secret, timestamp=later, time_entry_id="TE-O", approved_at=later.isoformat()
    )
    older = receive(
        client,
        psa_secret,
        timestamp=later - timedelta(hours=1),
        time_entry_id="TE-O",
        approved_at=(later - timedelta(hours=1)).isoformat(),
    )
    same = receive(
        client,
        psa_secret,
        timestamp=later,
        time_entry_id="TE-O",
        approved_at=(later + timedelta(minutes=5)).isoformat(),
    )
    process_inbound_events_task([newer, older, same])

    status = dict(InboundEvent.objects.values_list("pk", "status"))
    assert status == {
        newer: InboundEvent.Status.PROCESSED,
        older: InboundEvent.Status.SUPERSEDED,  # older after newer: no effect
        same: InboundEvent.Status.PROCESSED,  # the same timestamp as the last applied: applied
    }
    calls = list(
        SandboxCall.objects.filter(system__slug="erp")
        .order_by("at", "id")
        .values_list("idempotency_key", flat=True)
    )
    assert calls == [
        f"erp.time_entry.record:TE-O:{later.isoformat()}",
        f"erp.time_entry.record:TE-O:{(later + timedelta(minutes=5)).isoformat()}",
    ]


def test_a_failing_handler_leaves_its_event_failed_and_the_others_applied(
    client, psa_secret, erp_recorder
):
    good = [receive(client, psa_secret, time_entry_id=f"TE-G{n}") for n in range(3)]
    bad = receive(client, psa_secret, time_entry_id="TE-X", notes="explode")
    process_inbound_events_task([good[0], bad, *good[1:]])

    bad_event = InboundEvent.objects.get(pk=bad)
    assert bad_event.status == InboundEvent.Status.FAILED
    assert "ERP mapping table is empty" in bad_event.error
    assert bad_event.attempts == 1 and bad_event.next_attempt_at > timezone.now()
    applied = InboundEvent.objects.filter(pk__in=good)
    assert {(e.status, e.attempts) for e in applied} == {(InboundEvent.Status.PROCESSED, 1)}
    assert SandboxRecord.objects.filter(system__slug="erp").count() == 3


def _messages(erp, *keys):
    with transaction.atomic():
        return [
            enqueue_outbox_message(
                system=erp,
                kind="erp.time_entry.record",
                payload={
                    **{name: time_entry_data()[name] for name in TIME_RECORD_KEYS},
                    "time_entry_id": f"TE-{n}",
                    "legal_entity": None,
                },
                idempotency_key=f"k-{n}",
                object_key=key,
            ).pk
            for n, key in enumerate(keys)
        ]


def test_messages_to_one_object_in_one_batch_are_sent_in_order(systems):
    erp = systems["erp"][0]
    ids = _messages(erp, "invoice:1", "invoice:2", "invoice:1")
    dispatch_outbox_messages(message_ids=list(reversed(ids)))

    assert set(OutboxMessage.objects.values_list("status", flat=True)) == {"sent"}
    calls = list(SandboxCall.objects.order_by("at", "id").values_list("idempotency_key", flat=True))
    assert calls.index("k-0") < calls.index("k-2")  # the second to invoice:1 waited for the first


def test_an_open_breaker_defers_a_batch_without_calling(systems):
    erp = systems["erp"][0]
    CircuitBreaker.objects.update_or_create(
        system=erp,
        defaults={"state": CircuitBreaker.State.OPEN, "opened_at": timezone.now()},
    )
    ids = _messages(erp, "a", "b", "c")
    dispatch_outbox_messages(message_ids=ids)

    assert not SandboxCall.objects.exists()
    messages = OutboxMessage.objects.all()
    assert {(m.status, m.attempts) for m in messages} == {(OutboxMessage.Status.PENDING, 0)}
    assert all(m.next_attempt_at > timezone.now() for m in messages)
    assert DeliveryAttempt.objects.filter(outcome=DeliveryAttempt.Outcome.DEFERRED).count() == 3


def test_a_permanent_refusal_in_a_batch_is_dead_at_once_the_rest_sent(systems):
    erp = systems["erp"][0]
    ExternalSystem.objects.filter(pk=erp.pk).update(
        settings={"sandbox": {"permanent_operations": ["erp.invoice.create"]}}
    )
    with transaction.atomic():
        refused = enqueue_outbox_message(
            system=erp,
            kind="erp.invoice.create",
            payload={
                "invoice_id": "1",
                "customer_id": "1",
                "legal_entity": "US",
                "currency": "USD",
                "tax_jurisdiction": "US-NY",
                "invoice_date": "2026-11-30",
                "period": "2026-11",
                "net_total": "0.00",
                "tax_total": "0.00",
                "gross_total": "0.00",
                "lines": [],
            },
            idempotency_key="inv-1",
        ).pk
    ids = [*_messages(erp, "a", "b"), refused]
    dispatch_outbox_messages(message_ids=ids)

    status = dict(OutboxMessage.objects.values_list("idempotency_key", "status"))
    assert status == {"k-0": "sent", "k-1": "sent", "inv-1": "dead"}
    dead = OutboxMessage.objects.get(pk=refused)
    assert "422" in dead.last_error and dead.error_class == "permanent"
    assert CircuitBreaker.objects.get(system=erp).state == CircuitBreaker.State.CLOSED


def test_an_outage_during_a_batch_trips_the_breaker_within_its_threshold(systems):
    erp = systems["erp"][0]
    CircuitBreaker.objects.update_or_create(
        system=erp, defaults={"failure_threshold": 3, "recovery_seconds": 300}
    )
    ExternalSystem.objects.filter(pk=erp.pk).update(settings={"sandbox": {"error_rate": 1}})
    ids = _messages(erp, "a", "b", "c", "d", "e", "f")
    dispatch_outbox_messages(message_ids=ids)

    # The batch stops at its first failure; the rest go one by one through the breaker.
    assert SandboxCall.objects.count() == 3
    assert CircuitBreaker.objects.get(system=erp).state == CircuitBreaker.State.OPEN
    status = sorted(OutboxMessage.objects.values_list("status", flat=True))
    assert status == ["failed"] * 3 + ["pending"] * 3  # nothing lost, nothing dead


def test_a_slow_peer_sends_the_rest_of_a_batch_one_by_one_within_the_lease(
    systems, settings, monkeypatch
):
    from integrations.connectors.sandbox import SandboxConnector
    from integrations.services.outbox import rescue_expired_claims

    erp = systems["erp"][0]
    settings.OUTBOX_LEASE_SECONDS = 0.4  # half of it: one 250 ms call, then the rest alone
    ExternalSystem.objects.filter(pk=erp.pk).update(settings={"sandbox": {"latency_ms": 250}})
    real_call = SandboxConnector.call

    def call_while_the_sweeper_runs(self, *args, **kwargs):
        result = real_call(self, *args, **kwargs)
        rescue_expired_claims()  # beat's sweeper, running meanwhile
        return result

    monkeypatch.setattr(SandboxConnector, "call", call_while_the_sweeper_runs)
    ids = _messages(erp, "a", "b", "c")
    dispatch_outbox_messages(message_ids=ids)

    assert set(OutboxMessage.objects.values_list("status", flat=True)) == {"sent"}
    attempts = DeliveryAttempt.objects.all()
    assert {a.outcome for a in attempts} == {DeliveryAttempt.Outcome.SUCCESS}
    assert attempts.count() == 3 and SandboxCall.objects.count() == 3  # no stale, no repeat
