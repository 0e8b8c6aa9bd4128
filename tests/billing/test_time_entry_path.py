"""The thin path in-process: a signed approval becomes a time entry and one ERP call, on one trace."""

import pytest

from billing.models import TimeEntry
from integrations.models import ExternalRef, InboundEvent, OutboxMessage, SandboxRecord, TraceStep
from tests.helpers import drain, envelope, post_event, time_entry_data

pytestmark = pytest.mark.django_db


def test_approved_time_becomes_an_entry_and_one_erp_record_on_one_trace(client, psa_secret):
    data = time_entry_data(time_entry_id="TE-1", hours="7.50")
    response = post_event(client, "psa", psa_secret, envelope("psa.time_entry.approved", data))
    trace_id = response.json()["trace_id"]
    drain()

    entry = TimeEntry.objects.get(psa_time_entry_id="TE-1")
    assert str(entry.hours) == "7.50" and entry.trace_id == trace_id
    message = OutboxMessage.objects.get(kind="erp.time_entry.record")
    assert message.status == OutboxMessage.Status.SENT and message.trace_id == trace_id
    record = SandboxRecord.objects.get(system__slug="erp")
    assert record.data["time_entry_id"] == "TE-1" and record.data["hours"] == "7.50"
    assert ExternalRef.objects.get(object_type="timesheet_line").external_id == record.external_id
    kinds = list(TraceStep.objects.filter(trace_id=trace_id).values_list("kind", "action"))
    assert (
        ("event", "received") in kinds
        and ("record", "created") in kinds
        and ("outbound", "sent") in kinds
    )


def test_processing_twice_changes_nothing(client, psa_secret):
    post_event(
        client,
        "psa",
        psa_secret,
        envelope("psa.time_entry.approved", time_entry_data(time_entry_id="TE-2")),
    )
    drain()
    from integrations.services.inbox import process_inbound_event

    process_inbound_event(event_id=InboundEvent.objects.get().pk)
    drain()
    assert TimeEntry.objects.count() == 1
    assert SandboxRecord.objects.count() == 1


def test_older_approval_arriving_late_is_superseded(client, psa_secret):
    from datetime import UTC, datetime, timedelta

    newer = datetime.now(tz=UTC)
    post_event(
        client,
        "psa",
        psa_secret,
        envelope(
            "psa.time_entry.approved",
            time_entry_data(time_entry_id="TE-3", hours="5.00"),
            timestamp=newer,
        ),
    )
    drain()
    post_event(
        client,
        "psa",
        psa_secret,
        envelope(
            "psa.time_entry.approved",
            time_entry_data(time_entry_id="TE-3", hours="2.00"),
            timestamp=newer - timedelta(minutes=10),
        ),
    )
    drain()
    assert str(TimeEntry.objects.get(psa_time_entry_id="TE-3").hours) == "5.00"
    statuses = sorted(InboundEvent.objects.values_list("status", flat=True))
    assert statuses == ["processed", "superseded"]
