"""Billing admin, one module per sub-domain (each registers its ModelAdmins on import)."""

from billing.admin import time  # noqa: F401 registers TimeEntryAdmin
