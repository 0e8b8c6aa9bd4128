"""Reads of time entries that several figures share (the finance dashboard, the leakage ledger)."""

from django.db.models import Exists, OuterRef, Q

from billing.models import InvoiceLineEntry, TimeEntry


def unbilled_time() -> Q:
    """Rated time of a known project on no active invoice line: priced, billable (only billable
    time is rated), and not billed yet. The finance dashboard's "unbilled time" and the leakage
    ledger's "never billed" both start from it."""
    billed = InvoiceLineEntry.objects.filter(time_entry=OuterRef("pk"), is_active=True)
    return Q(status=TimeEntry.Status.RATED, project__isnull=False) & ~Q(Exists(billed))
