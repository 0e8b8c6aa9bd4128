"""Billing admin, one module per sub-domain (each registers its ModelAdmins on import)."""

from billing.admin import (
    approvals,  # noqa: F401 registers the four-eyes rules and requests
    invoices,  # noqa: F401 registers invoice and billing-run admins
    periods,  # noqa: F401 registers accounting-period and late-time-move admins
    projects,  # noqa: F401 registers project, contract and reference admins
    rates,  # noqa: F401 registers rate-card, rate and billing-rule admins (import/export)
    time,  # noqa: F401 registers TimeEntryAdmin
)
