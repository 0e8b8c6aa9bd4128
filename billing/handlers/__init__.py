"""Inbox handlers of billing events (registered in BillingConfig.ready)."""

from billing.services.invoice_posting import apply_erp_invoice_status
from billing.services.time_entries import record_time_entry, retract_time_entry


def handle_time_entry_approved(event) -> None:
    record_time_entry(data=event.data)


def handle_time_entry_retracted(event) -> None:
    retract_time_entry(data=event.data)


def handle_invoice_status_changed(event) -> None:
    apply_erp_invoice_status(data=event.data)
