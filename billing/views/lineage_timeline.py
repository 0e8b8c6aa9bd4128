"""What the lineage pages draw: each step of a lineage (billing/selectors/lineage.py) as one item
of a vertical timeline, in words, with the links the viewer may follow."""

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.urls import NoReverseMatch, reverse

from billing.models import Invoice
from billing.selectors.lineage import (
    Billing,
    DeliveredEntry,
    DeliveryLineage,
    EntryLineage,
    Visibility,
    billed_this_delivery,
)
from billing.selectors.lineage_history import Change, Delivery, Version, money_words
from billing.selectors.lineage_rating import Posting, RatingDecision
from config.money import minor_units

EVENT_WORDS = {
    "psa.time_entry.approved": "approved time",
    "psa.time_entry.retracted": "a retraction of approved time",
}


@dataclass
class Item:
    """One step of a timeline; ``kind`` picks its colour (event, record, outbound, exception)."""

    kind: str
    title: str
    when: datetime | None = None
    lines: list[str] = field(default_factory=list)
    links: list[tuple[str, str]] = field(default_factory=list)
    changes: tuple[Change, ...] = ()
    highlight: bool = False


def trace_link(trace_id: str) -> list[tuple[str, str]]:
    if not trace_id:
        return []
    return [("Trace", reverse("integrations:trace_detail", args=[trace_id]))]


def delivery_item(delivery: Delivery, visible: Visibility, user: Any) -> Item:
    words = EVENT_WORDS.get(delivery.event_type, delivery.event_type or "an event")
    links = [("Forward lineage", reverse("billing:event_lineage", args=[delivery.id]))]
    links += trace_link(delivery.trace_id)
    evidence = "the body exactly as received is kept" if delivery.has_raw_body else "no raw body"
    if delivery.has_raw_body and delivery.id in visible.evidence and user.is_staff:
        try:
            admin = reverse("admin:integrations_inboundevent_change", args=[delivery.id])
            links.append(("Raw evidence", admin))
        except NoReverseMatch:
            pass  # the admin does not list inbound events in this deployment
    return Item(
        kind="event",
        title=f"Delivery #{delivery.id} from the {delivery.system.upper()}: {words}",
        when=delivery.received_at,
        lines=[
            f"Webhook {delivery.webhook_id} · {delivery.status_label}",
            f"Evidence: {evidence}",
        ],
        links=links,
    )


def version_item(version: Version, billed: int | None) -> Item:
    by = f"by {version.by}" if version.by else "by Throughline"
    if version.from_delivery:
        by = f"by delivery #{version.delivery_id}"
    lines = [f"{version.status_label} · {by}"]
    if version.reason:
        lines.append(version.reason)
    return Item(
        kind="record",
        title=f"Version {version.number}: {version.summary}",
        when=version.at,
        lines=lines,
        changes=version.changes,
        highlight=version.number == billed,
    )


def rating_item(rating: RatingDecision, at: datetime | None) -> Item:
    currency = rating.amount.currency
    validity = f"from {rating.valid_from:%Y-%m-%d}" if rating.valid_from else "no version"
    if rating.valid_to:
        validity += f" to {rating.valid_to:%Y-%m-%d}"
    rate = f"Rate: {money_words(rating.rate, currency)} an hour"
    if rating.card_rate is not None and rating.card_rate != rating.rate:
        rate += f" (the card says {money_words(rating.card_rate, currency)})"
    if rating.psa_rate is not None:
        rate += f"; the PSA sent {money_words(rating.psa_rate, currency)}"
    unrounded = f"{rating.unrounded.amount.normalize():f}"
    return Item(
        kind="record",
        title=f"Rated on {rating.card_code or 'no card'} ({rating.card_kind or 'no card'})",
        when=at,
        lines=[
            f"Card version {validity}",
            f"Why this rate: {rating.rule_label}",
            rate,
            f"Hours: {rating.rounding}",
            f"Amount: {rating.billed_hours} h × {money_words(rating.rate, currency)} = "
            f"{unrounded} {currency}, rounded half up to {minor_units(currency)} decimals: "
            f"{rating.amount.format()}",
        ],
        highlight=True,
    )


def billed_item(billing: Billing, *, here: bool) -> Item:
    where = "this line" if here else f"{billing.invoice.title}, line {billing.line.pk}"
    version = f"version {billing.billed_version}" if billing.billed_version else "version unknown"
    hours = f"{billing.link.hours} h"
    return Item(
        kind="record",
        title=f"Billed on {where}: {hours}, {billing.amount.format()}",
        lines=[f"{billing.state.capitalize()} · {version}"],
        links=[]
        if here
        else [
            (
                "Line lineage",
                reverse("billing:line_lineage", args=[billing.invoice.pk, billing.line.pk]),
            )
        ],
        highlight=billing.state == "billed",
    )


def entry_timeline(entry: EntryLineage, visible: Visibility, user: Any) -> list[Item]:
    """Deliveries and versions in time order; the rating and the billing after the version the
    line billed; the credit that reversed it, when one did."""
    billed = entry.billing.billed_version
    steps: list[tuple[datetime, int, Item]] = []
    for delivery in entry.deliveries:
        steps.append((delivery.received_at, 0, delivery_item(delivery, visible, user)))
    rating = entry.rating
    rated = False  # the rating goes after the version that made it (its rated_at first seen)
    for version in entry.versions:
        steps.append((version.at, 1, version_item(version, billed)))
        made_here = rating is not None and version.row.rated_at == rating.rated_at
        if rating is not None and not rated and (made_here or version.number == billed):
            steps.append((version.at, 2, rating_item(rating, rating.rated_at)))
            rated = True
        if version.number == billed:
            steps.append((version.at, 3, billed_item(entry.billing, here=True)))
    credit = entry.billing.credit
    made = getattr(credit, "made_at", None)
    if credit is not None and made is not None:
        item = Item(
            kind="exception",
            title=f"Reversed by a credit on {credit.invoice.title}",
            when=made,
            lines=[credit.description],
            links=[("Invoice", reverse("billing:invoice_detail", args=[credit.invoice_id]))],
        )
        steps.append((made, 4, item))
    return [item for _at, _order, item in sorted(steps, key=lambda s: (s[0], s[1]))]


def posting_items(invoice: Invoice, posting: Posting | None, visible: Visibility) -> list[Item]:
    """The invoice's approval and its ERP call with every attempt (for a viewer the outbox
    rule lets see it), and the ERP's invoice id."""
    items = []
    if invoice.approved_at:
        by = invoice.approved_by.get_username() if invoice.approved_by else "someone"
        items.append(Item(kind="record", title=f"Approved by {by}", when=invoice.approved_at))
    if posting is None:
        items.append(
            Item(
                kind="outbound",
                title="Not sent to the ERP yet",
                lines=[invoice.get_status_display()],
            )
        )
        return items
    if invoice.pk not in visible.postings:
        items.append(
            Item(
                kind="outbound",
                title=f"Sent to the ERP: {posting.status_label}",
                lines=["The call's details are for operations."],
            )
        )
        return items
    items.append(
        Item(
            kind="outbound",
            title=f"Queued for the ERP ({posting.system}): {posting.status_label}",
            when=posting.created_at,
            lines=[f"{posting.kind} · message {posting.message_id}"],
            links=trace_link(posting.trace_id),
        )
    )
    for attempt in posting.attempts:
        lines = [f"{attempt.duration_ms} ms"] + ([attempt.error] if attempt.error else [])
        items.append(
            Item(
                kind="exception" if attempt.outcome in ("permanent", "auth") else "outbound",
                title=f"Attempt {attempt.number}: {attempt.outcome_label}",
                when=attempt.started_at,
                lines=lines,
            )
        )
    if posting.external_id:
        items.append(
            Item(
                kind="record",
                title=f"Posted: the ERP's invoice id is {posting.external_id}",
                when=posting.sent_at,
                highlight=True,
            )
        )
    return items


def billing_items(
    delivered: DeliveredEntry, lineage: DeliveryLineage, visible: Visibility
) -> list[Item]:
    """For a delivery's page: the versions it made, then every line that billed the entry
    (saying whether it billed this delivery's version) with its invoice's ERP posting."""
    items = [version_item(delivered.versions[n - 1], None) for n in delivered.made]
    if not delivered.made:
        items.append(Item(kind="record", title="This delivery changed nothing of the entry"))
    for billing in delivered.billings:
        item = billed_item(billing, here=False)
        if billed_this_delivery(billing, delivered):
            item.lines.append("It billed the version this delivery carried")
        else:
            item.lines.append("It billed another version of the entry")
            item.highlight = False
        items.append(item)
        posting = lineage.postings.get(billing.invoice.pk)
        if posting is not None and billing.invoice.pk in visible.postings and posting.external_id:
            items.append(
                Item(
                    kind="outbound",
                    title=f"{billing.invoice.title} posted to the ERP as {posting.external_id}",
                    when=posting.sent_at,
                )
            )
    if not delivered.billings:
        items.append(Item(kind="record", title="Not on any invoice line yet"))
    return items
