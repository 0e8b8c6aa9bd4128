"""The pull port: how Throughline hears of changes on a peer that sends no webhooks.

A connector that can be polled names its ``pull_streams`` (``"invoices"``, ``"time"``,
``"reference"`` …) and answers ``fetch_changes(stream, since)`` with the canonical events of
the contract (``erp.invoice.status_changed``, ``psa.time_entry.approved`` …) that happened since
the cursor it returned last time. The poller (integrations/services/polling.py) records each
event exactly as a webhook delivery of it (schema, once-only store, ordering, handlers), so a
peer's own notion of a change becomes the contract's event in one place: its connector.
"""

from dataclasses import dataclass, field


@dataclass(frozen=True)
class PulledEvent:
    """One change on the peer as a canonical event. ``key`` is stable per change (the same
    change read twice has the same key, so it is stored once)."""

    key: str
    event_type: str
    data: dict
    occurred_at: str  # ISO 8601, with a time zone


@dataclass(frozen=True)
class Changes:
    """What one fetch found: events in the order they happened, the cursor to start the next
    fetch from (opaque to the poller), and reference checks that found something wrong."""

    events: list[PulledEvent] = field(default_factory=list)
    cursor: str = ""
    read: int = 0  # peer records read (events can be fewer: unchanged or not ours)
    problems: list[str] = field(default_factory=list)
