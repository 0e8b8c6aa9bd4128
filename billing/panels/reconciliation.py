"""The finance dashboard's reconciliation figure (docs/finance-controls/reconciliation.md): the
open mismatch items, per kind, and the latest run; each a link to the reconciliation page."""

from billing.selectors.reconciliation import count_open_mismatches, latest_reconciliation_run
from billing.services.reconciliation import CHECK_LABELS
from config.registry import Panel
from config.roles import FINANCE


def get_reconciliation_mismatches(*, user=None) -> dict:
    """Open ``reconciliation_mismatch`` items in all and per check, and the latest run (two
    queries)."""
    counts = count_open_mismatches()
    run = latest_reconciliation_run()
    return {
        "open": sum(counts.values()),
        "by_check": [
            {"check": check, "label": label, "open": counts[check]}
            for check, label in CHECK_LABELS.items()
            if counts.get(check)
        ],
        "last_run": None
        if run is None
        else {
            "id": run.pk,
            "scope": run.scope,
            "status": run.status,
            "finished_at": run.finished_at.isoformat() if run.finished_at else None,
        },
    }


def reconciliation_panel() -> Panel:
    return Panel(
        key="billing:reconciliation",
        title="Reconciliation",
        dashboard="finance",
        compute=get_reconciliation_mismatches,
        template="billing/panels/reconciliation.html",
        roles=(FINANCE,),
        order=25,
    )
