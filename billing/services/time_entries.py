"""Approved and retracted time from the PSA (docs/contract.md §1, §5 "Corrections")."""

import logging
from decimal import Decimal

from django.db import transaction
from django.utils.dateparse import parse_date, parse_datetime

from billing.models import TimeEntry
from billing.services.invoices import take_entry_off_invoices
from billing.services.rating import rate_time_entry, release_hold
from integrations.services.outbox import enqueue_outbox_message
from integrations.services.traces import get_trace_id, record_touched
from mdm.services.routing import system_for_entity

logger = logging.getLogger(__name__)


def _fields(data: dict) -> dict:
    return {
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
    }


def _is_same_approval(entry: TimeEntry, fields: dict) -> bool:
    return entry.status != TimeEntry.Status.RETRACTED and all(
        getattr(entry, name) == value for name, value in fields.items()
    )


@transaction.atomic
def record_time_entry(*, data: dict) -> TimeEntry:
    """Store an approved PSA entry (or correct it: a later approval of the same id), rate it
    per §5 and queue its record on the ERP project (costing).

    A correction of an entry that is on an approved or posted invoice puts a credit line of
    the old amount on this month's draft of its group; on a draft it just leaves the draft.
    Idempotent per approval: the same approval again changes nothing and queues nothing new;
    an approval older than the stored one is ignored.
    """
    fields = _fields(data)
    entry = (
        TimeEntry.objects.select_for_update()
        .filter(psa_time_entry_id=data["time_entry_id"])
        .first()
    )
    if entry is not None and (
        _is_same_approval(entry, fields) or fields["approved_at"] < entry.approved_at
    ):
        logger.info("billing.time_entry.unchanged", extra={"entry": entry.psa_time_entry_id})
        return entry
    created = entry is None
    if entry is None:
        entry = TimeEntry(psa_time_entry_id=data["time_entry_id"], **fields)
        entry.trace_id = get_trace_id()
        entry.full_clean()
        entry.save()
    else:
        take_entry_off_invoices(entry=entry, reason="corrected by a new approval")
        for name, value in fields.items():
            setattr(entry, name, value)
        entry.retracted_at, entry.retraction_reason = None, ""
        entry.rate_override, entry.write_off_reason, entry.written_off_amount = None, "", None
        entry.trace_id = get_trace_id() or entry.trace_id
    record_touched(entry, action="created" if created else "corrected")
    rate_time_entry(entry=entry, note=f"{entry.psa_time_entry_id} was corrected in the PSA")
    _queue_erp_time_record(entry)
    return entry


def _queue_erp_time_record(entry: TimeEntry) -> None:
    entity = entry.project.contract.legal_entity if entry.project is not None else None
    enqueue_outbox_message(
        system=system_for_entity("erp", entity),
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
            "legal_entity": entity.code if entity else None,
        },
        # One ERP record per approval: a correction (new approved_at) is a new effect.
        idempotency_key=f"erp.time_entry.record:{entry.psa_time_entry_id}:{entry.approved_at.isoformat()}",
        object_key=f"time_entry:{entry.psa_time_entry_id}",
        local_object=entry,
        external_object_type="timesheet_line",
    )


@transaction.atomic
def retract_time_entry(*, data: dict) -> TimeEntry | None:
    """An approved entry was sent back for correction: it leaves its draft (or, when on an
    approved or posted invoice, this month's draft of its group gets a credit line), leaves
    any exception item holding it, and stops counting towards the cap. Idempotent; a
    retraction of an entry never received, or older than its approval, changes nothing."""
    retracted_at = parse_datetime(data["retracted_at"])
    entry = (
        TimeEntry.objects.select_for_update()
        .filter(psa_time_entry_id=data["time_entry_id"])
        .first()
    )
    if entry is None or entry.status == TimeEntry.Status.RETRACTED:
        return entry
    if retracted_at is None:  # not a date-time: refused as comparing None always was
        raise TypeError(f"retracted_at {data['retracted_at']!r} is not a date-time")
    if retracted_at < entry.approved_at:
        logger.info("billing.retraction_stale", extra={"entry": entry.psa_time_entry_id})
        return entry
    take_entry_off_invoices(entry=entry, reason="retracted in the PSA")
    release_hold(entry=entry, note=f"{entry.psa_time_entry_id} was retracted in the PSA")
    entry.status = TimeEntry.Status.RETRACTED
    entry.retracted_at, entry.retraction_reason = retracted_at, data.get("reason") or ""
    entry.save()
    record_touched(
        entry, action="retracted", summary=f"time entry {entry.psa_time_entry_id} retracted"
    )
    return entry
