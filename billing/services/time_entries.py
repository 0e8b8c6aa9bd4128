"""Approved time from the PSA: store the entry, queue its record on the ERP project."""

from decimal import Decimal

from django.db import transaction
from django.utils.dateparse import parse_date, parse_datetime

from billing.models import TimeEntry
from integrations.services.outbox import enqueue_outbox_message
from integrations.services.systems import get_system_for_kind
from integrations.traces import get_trace_id, record_touched


@transaction.atomic
def record_time_entry(*, data: dict) -> TimeEntry:
    """Store (or correct) an approved PSA time entry and queue its record on the ERP project.

    Idempotent per approval: the same approval again changes nothing and queues nothing new.
    """
    entry_id = data["time_entry_id"]
    fields = {
        "psa_project_id": data["project_id"],
        "phase_code": data["phase_code"],
        "person_email": data["person_email"],
        "role": data["role"],
        "work_date": parse_date(data["work_date"]),
        "hours": Decimal(data["hours"]),
        "is_billable": data["billable"],
        "category": data["category"],
        "psa_bill_rate": Decimal(data["bill_rate"]) if data.get("bill_rate") else None,
        "notes": data.get("notes") or "",
        "approved_at": parse_datetime(data["approved_at"]),
        "approved_by": data.get("approved_by") or "",
        "trace_id": get_trace_id(),
    }
    entry, created = TimeEntry.objects.select_for_update().get_or_create(
        psa_time_entry_id=entry_id, defaults=fields
    )
    if not created:
        for name, value in fields.items():
            setattr(entry, name, value)
        entry.status = TimeEntry.Status.RECEIVED
    entry.full_clean()
    entry.save()
    record_touched(entry, action="created" if created else "corrected")
    enqueue_outbox_message(
        system=get_system_for_kind("erp"),
        kind="erp.time_entry.record",
        payload={
            "time_entry_id": entry.psa_time_entry_id,
            "project_id": entry.psa_project_id,
            "phase_code": entry.phase_code,
            "person_email": entry.person_email,
            "role": entry.role,
            "work_date": entry.work_date.isoformat(),
            "hours": str(entry.hours),
            "billable": entry.is_billable,
        },
        # One ERP record per approval: a correction (new approved_at) is a new effect.
        idempotency_key=f"erp.time_entry.record:{entry.psa_time_entry_id}:{entry.approved_at.isoformat()}",
        object_key=f"time_entry:{entry.psa_time_entry_id}",
        local_object=entry,
        external_object_type="timesheet_line",
    )
    return entry
