"""The past of time entries for their lineage (docs/finance-controls/lineage.md): every historical
version (django-simple-history rows), what changed from the version before, and the inbound
deliveries that carried the entry, matched to the versions they made by trace id.

An entry's ``trace_id`` is set when a delivery creates or corrects it, and nothing else changes
it (rating, billing and write-offs keep it), so a history row's trace id names the delivery
whose version the row belongs to: the first row of that trace is the version the delivery
carried, the later ones are what Throughline decided about it.
"""

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from django.utils import timezone

from billing.models import TimeEntry
from config.money import Money, decimals_of, minor_units
from exceptions_queue.registry import exception_types
from integrations.models import InboundEvent

# The fields a person reads in a version, in the order they are told. The rest (ids, costs,
# timestamps of the row itself) is bookkeeping.
FIELD_WORDS = {
    "hours": "Hours",
    "work_date": "Work date",
    "phase_code": "Phase",
    "role": "Role",
    "person_email": "Person",
    "is_billable": "Billable",
    "category": "Category",
    "psa_bill_rate": "PSA rate",
    "notes": "Notes",
    "approved_at": "Approved in the PSA",
    "approved_by": "Approved by",
    "status": "Status",
    "hold_reason": "Held because",
    "project_id": "Project",
    "rate_card_version_id": "Card version",
    "rate": "Rate",
    "rate_override": "Rate accepted by finance",
    "billed_hours": "Billed hours",
    "amount": "Amount",
    "currency": "Currency",
    "write_off_reason": "Written off because",
    "written_off_amount": "Amount written off",
    "retracted_at": "Retracted",
    "retraction_reason": "Why retracted",
}
STATUS_WORDS = dict(TimeEntry.Status.choices)
RATED_STATES = (TimeEntry.Status.RATED, TimeEntry.Status.INVOICED)


@dataclass(frozen=True)
class Delivery:
    """One inbound event that carried a time entry (the raw evidence is kept on its row)."""

    id: int
    system: str
    event_type: str
    webhook_id: str
    received_at: datetime
    status: str
    status_label: str
    trace_id: str
    has_raw_body: bool
    event: InboundEvent


@dataclass(frozen=True)
class Change:
    field: str
    label: str
    before: str
    after: str


@dataclass(frozen=True)
class Version:
    """One history row of an entry: the entry as it was after a change."""

    number: int
    at: datetime
    by: str
    reason: str
    status: str
    status_label: str
    trace_id: str
    delivery_id: int | None
    from_delivery: bool  # the version the delivery itself carried (its trace's first row)
    summary: str
    changes: tuple[Change, ...]
    row: Any  # the HistoricalTimeEntry (simple-history generates the class)


def history_rows(entry_ids: Iterable[int]) -> dict[int, list[Any]]:
    """Every history row of the entries, oldest first, per entry id (one query)."""
    rows: dict[int, list[Any]] = {}
    found = (
        TimeEntry.history.filter(id__in=list(entry_ids))
        .select_related("history_user")
        .order_by("history_date", "history_id")
    )
    for row in found:
        rows.setdefault(row.id, []).append(row)
    return rows


def object_key_of(entry: TimeEntry) -> str:
    """The source object key of the entry's PSA events (integrations/connectors/schemas.py)."""
    return f"time_entry:{entry.psa_time_entry_id}"


def deliveries_of(entries: Iterable[TimeEntry]) -> dict[str, list[Delivery]]:
    """The inbound events whose object is each entry, oldest first, per PSA entry id (one
    query). ``object_key`` has no index of its own: the lookup reads the inbox."""
    keys = {object_key_of(entry): entry.psa_time_entry_id for entry in entries}
    found: dict[str, list[Delivery]] = {}
    if not keys:
        return found
    events = (
        InboundEvent.objects.filter(object_key__in=list(keys))
        .select_related("system")
        .order_by("received_at", "id")
    )
    for event in events:
        found.setdefault(keys[event.object_key], []).append(delivery_of(event))
    return found


def delivery_of(event: InboundEvent) -> Delivery:
    return Delivery(
        id=event.pk,
        system=event.system.slug,
        event_type=event.event_type,
        webhook_id=event.webhook_id,
        received_at=event.received_at,
        status=event.status,
        status_label=event.get_status_display(),
        trace_id=event.trace_id,
        has_raw_body=bool(event.raw_base64),
        event=event,
    )


def versions_of(
    rows: list[Any], deliveries: list[Delivery], names: dict[str, dict[int, str]]
) -> list[Version]:
    """The versions of one entry (its history ``rows``, oldest first), each with what changed
    from the one before and the delivery whose trace it belongs to. ``names``: how to word the
    ids a version holds (``{"rate_card_version_id": {id: words}, "project_id": …}``)."""
    by_trace = {delivery.trace_id: delivery for delivery in deliveries if delivery.trace_id}
    versions: list[Version] = []
    seen_traces: set[str] = set()
    previous = None
    for number, row in enumerate(rows, start=1):
        delivery = by_trace.get(row.trace_id)
        first_of_trace = row.trace_id not in seen_traces
        seen_traces.add(row.trace_id)
        changes = () if previous is None else tuple(_changes(previous, row, names))
        user = row.history_user
        versions.append(
            Version(
                number=number,
                at=row.history_date,
                by=user.get_username() if user is not None else "",
                reason=row.history_change_reason or "",
                status=row.status,
                status_label=STATUS_WORDS.get(row.status, row.status),
                trace_id=row.trace_id,
                delivery_id=delivery.id if delivery else None,
                from_delivery=delivery is not None and first_of_trace,
                summary=_summary(row, previous, changes),
                changes=changes,
                row=row,
            )
        )
        previous = row
    return versions


def _summary(row: Any, previous: Any, changes: tuple[Change, ...]) -> str:
    if previous is None:
        return (
            f"Received: {row.hours} h on {row.work_date:%Y-%m-%d} by {row.person_email} as "
            f"{row.role}, phase {row.phase_code}"
        )
    if row.approved_at != previous.approved_at:
        return f"Corrected in the PSA (approved again {words(row.approved_at)})"
    if row.status != previous.status:
        before, after = (STATUS_WORDS.get(r.status, r.status) for r in (previous, row))
        return f"{before} → {after}"
    if not changes:
        return "Saved again, nothing a person reads changed"
    return "Changed: " + ", ".join(change.label.lower() for change in changes)


def _changes(before: Any, after: Any, names: dict[str, dict[int, str]]) -> list[Change]:
    changes = []
    for name, label in FIELD_WORDS.items():
        old, new = getattr(before, name), getattr(after, name)
        if old == new:
            continue
        changes.append(
            Change(
                field=name,
                label=label,
                before=_field_words(name, old, before, names),
                after=_field_words(name, new, after, names),
            )
        )
    return changes


MONEY_FIELDS = ("amount", "written_off_amount", "rate", "psa_bill_rate", "rate_override")


def _field_words(name: str, value: Any, row: Any, names: dict[str, dict[int, str]]) -> str:
    if name == "status":
        return STATUS_WORDS.get(value, value)
    if name == "hold_reason" and value:
        found = exception_types.get(value)
        return found.title if found is not None else str(value)
    if name in names and value is not None:
        return names[name].get(value, f"#{value}")
    if name in MONEY_FIELDS and value is not None and row.currency:
        return money_words(value, row.currency)
    return words(value)


def money_words(value: Decimal, currency: str) -> str:
    """An amount or a rate in its currency: its decimals when it has no more than the
    currency's (``150.00 USD``), else as stored (a rate of ``142.5050 USD``)."""
    if decimals_of(value) <= minor_units(currency):
        return Money(value, currency).format()
    return f"{value.normalize():f} {currency}"


def words(value: Any) -> str:
    """A field's value as a person reads it: "—" for nothing, yes/no, local date-times."""
    if value is None or value == "":
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, datetime):
        return f"{timezone.localtime(value):%Y-%m-%d %H:%M}"
    if isinstance(value, date):
        return f"{value:%Y-%m-%d}"
    if isinstance(value, Decimal):
        return f"{value:f}"
    return str(value)
