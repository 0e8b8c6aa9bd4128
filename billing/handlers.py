"""Inbox handlers of billing events (registered in BillingConfig.ready)."""

from billing.services.time_entries import record_time_entry


def handle_time_entry_approved(event) -> None:
    record_time_entry(data=event.data)
