"""Billing admin, one module per sub-domain (each registers its ModelAdmins on import)."""

from billing.admin import (
    projects,  # noqa: F401 registers project, contract and reference admins
    time,  # noqa: F401 registers TimeEntryAdmin
)
