"""Lineage (issue #19; docs/finance-controls/lineage.md): from an invoice line back to what
made it, and from a delivery forward to what it made.

``line_lineage(line)``: for each time entry on the line, the rating decision of the version
the line billed, every version of the entry (corrections included) and the deliveries that
carried them; and the ERP call that posted the invoice. ``delivery_lineage(event)``: the
entries the delivery carried, the versions it made, the lines that billed them (marking the
ones that billed this delivery's version), their invoices and postings.

Which version a line billed: an active link bills the entry as it is now (a correction takes
an entry off its line first); a link a credit reversed billed the version current when the
credit was made; a link of a void invoice, the version current when the invoice went void.
Both run a fixed number of queries, whatever the number of entries, versions and deliveries.
What a viewer may see of it is decided by ``lineage_visibility``.
"""

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db.models import OuterRef, Subquery

from billing.models import Invoice, InvoiceLine, InvoiceLineEntry, TimeEntry
from billing.selectors.lineage_history import (
    RATED_STATES,
    Delivery,
    Version,
    deliveries_of,
    delivery_of,
    history_rows,
    versions_of,
)
from billing.selectors.lineage_rating import (
    Posting,
    RatingContext,
    RatingDecision,
    card_version_words,
    postings_of,
)
from config import policy
from config.money import Money
from integrations.models import InboundEvent
from integrations.selectors import list_events_for

CREDIT_PREFIX = "credit:"  # a credit line's group key names the link it reverses


@dataclass(frozen=True)
class Billing:
    """One link of an entry to a line: what it billed and what became of it."""

    link: InvoiceLineEntry
    line: InvoiceLine
    invoice: Invoice
    amount: Money
    state: str
    billed_version: int | None
    credit: InvoiceLine | None


@dataclass(frozen=True)
class EntryLineage:
    entry: TimeEntry
    billing: Billing
    rating: RatingDecision | None
    versions: tuple[Version, ...]
    deliveries: tuple[Delivery, ...]


@dataclass(frozen=True)
class LineLineage:
    line: InvoiceLine
    invoice: Invoice
    entries: tuple[EntryLineage, ...]
    posting: Posting | None


@dataclass(frozen=True)
class DeliveredEntry:
    entry: TimeEntry
    versions: tuple[Version, ...]
    made: tuple[int, ...]  # the numbers of the versions in this delivery's trace
    billings: tuple[Billing, ...]
    deliveries: tuple[Delivery, ...]


@dataclass(frozen=True)
class DeliveryLineage:
    delivery: Delivery
    entries: tuple[DeliveredEntry, ...]
    postings: dict[int, Posting]


@dataclass(frozen=True)
class Visibility:
    """What of a lineage the viewer may open: the deliveries' raw evidence (by event id), the
    postings (by invoice id), the entries and the invoices."""

    evidence: frozenset[int]
    postings: frozenset[int]
    entries: bool
    invoices: bool


def get_line(*, invoice_id: int, line_id: int) -> InvoiceLine:
    """The line with its invoice and contract; raises InvoiceLine.DoesNotExist."""
    return InvoiceLine.objects.select_related(
        "invoice__customer", "invoice__legal_entity", "invoice__approved_by", "contract__project"
    ).get(pk=line_id, invoice_id=invoice_id)


def line_lineage(line: InvoiceLine) -> LineLineage:
    """Each entry on ``line`` back to its rating, versions and deliveries, and the invoice's
    ERP posting. About ten queries, whatever the number of entries."""
    links = list(
        line.entries.select_related("time_entry__project").order_by(
            "time_entry__work_date", "time_entry__psa_time_entry_id", "pk"
        )
    )
    entries = [link.time_entry for link in links]
    rows = history_rows(entry.pk for entry in entries)
    deliveries = deliveries_of(entries)
    credits = _credits(links)
    context = RatingContext(
        (row for entry_rows in rows.values() for row in entry_rows),
        {line.contract_id: line.contract},
    )
    names = {
        "rate_card_version_id": context.card_words(),
        "project_id": project_names(entries),
    }
    lineages = []
    for link in links:
        entry = link.time_entry
        link.line = line
        versions = versions_of(
            rows.get(entry.pk, []), deliveries.get(entry.psa_time_entry_id, []), names
        )
        billing = _billing(link, entry, versions, credits.get(link.pk))
        billed = versions[billing.billed_version - 1] if billing.billed_version else None
        lineages.append(
            EntryLineage(
                entry=entry,
                billing=billing,
                rating=context.decision(billed.row, line.contract_id) if billed else None,
                versions=tuple(versions),
                deliveries=tuple(deliveries.get(entry.psa_time_entry_id, [])),
            )
        )
    postings = postings_of([line.invoice])
    return LineLineage(
        line=line,
        invoice=line.invoice,
        entries=tuple(lineages),
        posting=postings.get(line.invoice_id),
    )


def delivery_lineage(event: InboundEvent) -> DeliveryLineage:
    """The entries ``event`` carried (its object key), the versions it made, the lines that
    billed them, their invoices and ERP postings. A fixed number of queries."""
    keys = [event.object_key.removeprefix("time_entry:")] if _carries_time(event) else []
    entries = list(TimeEntry.objects.filter(psa_time_entry_id__in=keys).select_related("project"))
    rows = history_rows(entry.pk for entry in entries)
    deliveries = deliveries_of(entries)
    links = list(
        InvoiceLineEntry.objects.filter(time_entry__in=entries)
        .select_related(
            "line__invoice__customer", "line__invoice__legal_entity", "line__contract__project"
        )
        .order_by("pk")
    )
    credits = _credits(links)
    names = {
        "rate_card_version_id": card_version_words(r for rs in rows.values() for r in rs),
        "project_id": project_names(entries),
    }
    delivered = []
    for entry in entries:
        versions = versions_of(
            rows.get(entry.pk, []), deliveries.get(entry.psa_time_entry_id, []), names
        )
        billings = tuple(
            _billing(link, entry, versions, credits.get(link.pk))
            for link in links
            if link.time_entry_id == entry.pk
        )
        delivered.append(
            DeliveredEntry(
                entry=entry,
                versions=tuple(versions),
                made=tuple(v.number for v in versions if v.trace_id == event.trace_id),
                billings=billings,
                deliveries=tuple(deliveries.get(entry.psa_time_entry_id, [])),
            )
        )
    invoices = {link.line.invoice_id: link.line.invoice for link in links}
    return DeliveryLineage(
        delivery=delivery_of(event),
        entries=tuple(delivered),
        postings=postings_of(invoices.values()),
    )


def project_names(entries: list[TimeEntry]) -> dict[int, str]:
    """The entries' projects by id, as their versions name them (no query: joined before)."""
    return {entry.project.pk: entry.project.name for entry in entries if entry.project}


def _carries_time(event: InboundEvent) -> bool:
    return event.event_type.startswith("psa.time_entry.") and event.object_key.startswith(
        "time_entry:"
    )


def billed_this_delivery(billing: Billing, delivered: DeliveredEntry) -> bool:
    """Whether ``billing`` billed a version the delivery made."""
    return billing.billed_version is not None and billing.billed_version in delivered.made


def _credits(links: list[InvoiceLineEntry]) -> dict[int, InvoiceLine]:
    """The credit line reversing each inactive link, with the time it was made (one query)."""
    keys = {f"{CREDIT_PREFIX}{link.pk}": link.pk for link in links if not link.is_active}
    if not keys:
        return {}
    made = InvoiceLine.history.filter(id=OuterRef("pk"), history_type="+").order_by("history_date")
    credits = (
        InvoiceLine.objects.filter(kind=InvoiceLine.Kind.CREDIT, group_key__in=list(keys))
        .select_related("invoice")
        .annotate(made_at=Subquery(made.values("history_date")[:1]))
    )
    return {keys[credit.group_key]: credit for credit in credits}


def _billing(
    link: InvoiceLineEntry, entry: TimeEntry, versions: list[Version], credit: InvoiceLine | None
) -> Billing:
    invoice = link.line.invoice
    ended: datetime | None = None
    if credit is not None:
        state = f"reversed by a credit on {credit.invoice.title}"
        ended = getattr(credit, "made_at", None)  # annotated by _credits
    elif invoice.status == Invoice.Status.VOID:
        state, ended = "its invoice is void", invoice.status_changed_at
    elif not link.is_active:
        state = "no longer billed"
    else:
        state = "billed"
    return Billing(
        link=link,
        line=link.line,
        invoice=invoice,
        amount=Money(link.amount, invoice.currency).rounded(),
        state=state,
        billed_version=_billed_version(link, entry, versions, ended),
        credit=credit,
    )


def _billed_version(
    link: InvoiceLineEntry, entry: TimeEntry, versions: list[Version], ended: datetime | None
) -> int | None:
    """The number of the version ``link`` billed: the last rated version of the delivery whose
    version was current while the link was active (see the module's docstring)."""
    if link.is_active and link.line.invoice.status != Invoice.Status.VOID:
        trace = entry.trace_id
    elif ended is not None:
        before = [v for v in versions if v.at <= ended]
        if not before:
            return None
        trace = before[-1].trace_id
    else:
        return None
    rated = [
        v
        for v in versions
        if v.trace_id == trace and v.status in RATED_STATES and (ended is None or v.at <= ended)
    ]
    return rated[-1].number if rated else None


def lineage_visibility(
    request: Any,
    *,
    events: list[InboundEvent],
    postings: dict[int, Posting],
    entry: TimeEntry | None,
    invoice: Invoice | None,
) -> Visibility:
    """What the viewer of ``request`` may open, by the policy (config/policy.py): the raw
    evidence of the events they may read (one query for all of them: the events' object
    check), each posting by the outbox rule (finance sees the call that posted its invoice),
    the entries and the invoices by their resources (``entry``/``invoice``: one of each)."""
    ids = [event.pk for event in events]
    evidence: frozenset[int] = frozenset()
    if ids:
        readable = list_events_for(user=request.user, token=getattr(request, "auth", None))
        evidence = frozenset(readable.filter(pk__in=ids).values_list("pk", flat=True))
    return Visibility(
        evidence=evidence,
        postings=frozenset(
            invoice_id
            for invoice_id, posting in postings.items()
            if policy.can_see_subject(request, "integrations.outboxmessage", posting.message)
        ),
        entries=entry is not None and policy.can_see_subject(request, "billing.timeentry", entry),
        invoices=invoice is not None
        and policy.can_see_subject(request, "billing.invoice", invoice),
    )


def seen_line_lineage(
    request: Any, *, invoice_id: int, line_id: int
) -> tuple[InvoiceLine, LineLineage, Visibility] | None:
    """A line's lineage as the viewer of ``request`` may see it (the page and the API): None
    when there is no such line or the viewer may not see its invoice."""
    try:
        line = get_line(invoice_id=invoice_id, line_id=line_id)
    except InvoiceLine.DoesNotExist:
        return None
    if not policy.can_see_subject(request, "billing.invoice", line.invoice):
        return None
    lineage = line_lineage(line)
    visible = lineage_visibility(
        request,
        events=[d.event for e in lineage.entries for d in e.deliveries],
        postings={line.invoice_id: lineage.posting} if lineage.posting else {},
        entry=lineage.entries[0].entry if lineage.entries else None,
        invoice=line.invoice,
    )
    return line, lineage, visible


def seen_delivery_lineage(
    request: Any, *, event_id: int
) -> tuple[InboundEvent, DeliveryLineage, Visibility] | None:
    """A delivery's forward lineage as the viewer may see it; None for no such event."""
    event = InboundEvent.objects.select_related("system").filter(pk=event_id).first()
    if event is None:
        return None
    lineage = delivery_lineage(event)
    invoices = [b.invoice for e in lineage.entries for b in e.billings]
    visible = lineage_visibility(
        request,
        events=[event],
        postings=lineage.postings,
        entry=lineage.entries[0].entry if lineage.entries else None,
        invoice=invoices[0] if invoices else None,
    )
    return event, lineage, visible
