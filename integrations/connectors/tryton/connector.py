"""The Tryton connector: Tryton as an ERP (parties, customer invoices) and as a PSA (projects,
timesheets), over JSON-RPC. One class serves both kinds; a system's kind decides which
operations it answers and which changes are polled (Tryton sends no webhooks)."""

from collections.abc import Callable
from typing import ClassVar

from integrations.connectors.base import Connector, DeliveryResult, PermanentError
from integrations.connectors.pull import Changes
from integrations.connectors.readback import ReadInvoice
from integrations.connectors.tryton import erp, polling, psa, setup


def _no_costing(client, lookups, payload: dict) -> DeliveryResult:
    """``erp.time_entry.record``: Tryton costs time from its own timesheet lines (the PSA
    side), so approved time is recorded in Throughline only; answered, nothing written."""
    return DeliveryResult(data={"recorded": False, "reason": "Tryton costs its own timesheets"})


def _no_events(client, lookups, payload: dict) -> DeliveryResult:
    raise PermanentError(
        "Tryton cannot receive Throughline events: remove its event subscription (admin)"
    )


OPERATIONS: dict[str, Callable[..., DeliveryResult]] = {
    "erp.customer.upsert": erp.upsert_customer,
    "erp.customer.merge": erp.merge_customers,
    "erp.invoice.create": erp.create_invoice,
    "psa.project.create": psa.create_project,
}
# Answered here without a call to Tryton (no login: they succeed or fail the same during an
# outage, and never count against the breaker).
LOCAL_OPERATIONS: dict[str, Callable[..., DeliveryResult]] = {
    "erp.time_entry.record": _no_costing,
    "erp.event.publish": _no_events,
    "psa.event.publish": _no_events,
}


class TrytonConnector(Connector):
    name = "tryton"
    pull_streams: ClassVar[dict[str, tuple[str, ...]]] = {
        "erp": ("invoices", "reference"),
        "psa": ("time",),
    }
    # Seconds between runs of a stream (others run at every poll): settings change rarely.
    pull_intervals: ClassVar[dict[str, float]] = {"reference": 3600.0}

    def call(self, operation: str, payload: dict, *, idempotency_key: str) -> DeliveryResult:
        if operation in LOCAL_OPERATIONS:
            return LOCAL_OPERATIONS[operation](None, None, payload)
        handler = OPERATIONS.get(operation)
        if handler is None:
            raise PermanentError(f"the Tryton connector does not do {operation}")
        client = setup.client_for(self.system, self.credentials)
        return handler(client, setup.lookups_for(self.system, client), payload)

    def fetch_changes(self, stream: str, since: str | None) -> Changes:
        if stream not in self.pull_streams.get(self.system.kind, ()):
            raise PermanentError(f"a Tryton {self.system.kind} has no {stream} to poll")
        client = setup.client_for(self.system, self.credentials)
        lookups = setup.lookups_for(self.system, client)
        return polling.STREAMS[stream](client, lookups, since)

    def read_invoices(self, ids: list[str]) -> dict[str, ReadInvoice]:
        if self.system.kind != "erp":
            raise PermanentError(f"a Tryton {self.system.kind} has no invoices to read back")
        if not ids:
            return {}
        client = setup.client_for(self.system, self.credentials)
        return erp.read_invoices(client, setup.lookups_for(self.system, client), list(ids))
