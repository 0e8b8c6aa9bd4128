"""The reconciliation control (docs/finance-controls/reconciliation.md): per month and legal
entity, approved time ↔ rated ↔ invoiced ↔ posted in the ERP (read back) ↔ status in the CRM;
each mismatch a ``reconciliation_mismatch`` item for finance. ``compare`` is the pure
comparison, ``run`` the job around it, ``items`` the items it raises and resolves."""

from billing.services.reconciliation.compare import (
    CHECK_LABELS,
    Comparison,
    Mismatch,
    PeerAnswers,
    compare,
)
from billing.services.reconciliation.run import (
    NIGHTLY_MONTHS,
    ReconciliationRefused,
    create_reconciliation,
    execute_reconciliation,
    months_back,
    recheck_action,
    reconcile_recent_months,
    request_reconciliation,
)

__all__ = [
    "CHECK_LABELS",
    "NIGHTLY_MONTHS",
    "Comparison",
    "Mismatch",
    "PeerAnswers",
    "ReconciliationRefused",
    "compare",
    "create_reconciliation",
    "execute_reconciliation",
    "months_back",
    "recheck_action",
    "reconcile_recent_months",
    "request_reconciliation",
]
