"""Customer master's dashboard figures (docs/contract.md §6): its open exceptions, and the records."""

from datetime import timedelta

from django.db.models import Count, Min, Q
from django.utils import timezone

from exceptions_queue.models import ExceptionItem
from mdm.models import Customer

CUSTOMER_MASTER_TYPES = ("duplicate_customer", "ownership_conflict")


def get_customer_master_figures(*, user=None) -> dict:
    """Open (open or assigned) ``duplicate_customer`` and ``ownership_conflict`` items: count,
    overdue, oldest age in hours, resolved or dismissed in the last 30 days; and golden records
    by status. Two queries."""
    now = timezone.now()
    rows = {
        row["type_code"]: row
        for row in ExceptionItem.objects.filter(type_code__in=CUSTOMER_MASTER_TYPES)
        .values("type_code")
        .annotate(
            open=Count("id", filter=Q(status__in=ExceptionItem.OPEN_STATUSES)),
            overdue=Count("id", filter=Q(status__in=ExceptionItem.OPEN_STATUSES, due_at__lt=now)),
            oldest=Min("first_seen_at", filter=Q(status__in=ExceptionItem.OPEN_STATUSES)),
            closed_30d=Count("id", filter=Q(resolved_at__gte=now - timedelta(days=30))),
        )
        .order_by()
    }
    customers = dict(
        Customer.objects.values("status").annotate(n=Count("id")).values_list("status", "n")
    )
    return {
        "exceptions": [
            {
                "type": code,
                "open": rows.get(code, {}).get("open", 0),
                "overdue": rows.get(code, {}).get("overdue", 0),
                "oldest_age_hours": _age(now, rows.get(code, {}).get("oldest")),
                "closed_last_30_days": rows.get(code, {}).get("closed_30d", 0),
            }
            for code in CUSTOMER_MASTER_TYPES
        ],
        "customers": {status: customers.get(status, 0) for status in Customer.Status.values},
    }


def _age(now, moment) -> int | None:
    return None if moment is None else int((now - moment).total_seconds() // 3600)


def present_customer_master(data: dict) -> dict:
    def words(hours):
        if hours is None:
            return "–"
        return f"{hours} h" if hours < 48 else f"{hours // 24} d"

    labels = {
        "duplicate_customer": "Possible duplicates",
        "ownership_conflict": "Ownership conflicts",
    }
    return {
        "rows": [
            {**row, "label": labels[row["type"]], "oldest": words(row["oldest_age_hours"])}
            for row in data["exceptions"]
        ]
    }


def customer_master_table():
    """The panel's table as a file (config/exports.py): the rows it shows, types in words."""
    from config.exports import NUMBER, Column, PanelTable

    return PanelTable(
        columns=[
            Column("Type", "label"),
            Column("Open", "open", NUMBER),
            Column("Overdue", "overdue", NUMBER),
            Column("Oldest", "oldest"),
            Column("Closed, 30 d", "closed_last_30_days", NUMBER),
        ],
        rows=lambda data, view: (view or {}).get("rows", []),
    )


def register() -> None:
    from config.registry import Panel, panels
    from config.roles import FINANCE, OPERATIONS

    panels.register(
        "mdm:customer-master",
        Panel(
            key="mdm:customer-master",
            title="Customer master exceptions",
            dashboard="finance",
            compute=get_customer_master_figures,
            template="mdm/panels/customer_master.html",
            roles=(FINANCE, OPERATIONS),
            order=50,
            extra={"present": present_customer_master, "table": customer_master_table()},
        ),
    )
