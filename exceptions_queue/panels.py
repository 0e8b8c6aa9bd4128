"""Exception queues' dashboard figures (docs/contract.md §6): counts and ages of open items, one
panel per queue on that queue's dashboard; and the integration health panel shown again on the
operations dashboard (the figures are integrations' own selector, not a copy)."""

from datetime import timedelta

from django.db.models import Count, Min, Q
from django.utils import timezone

from exceptions_queue.models import ExceptionItem, Queue
from exceptions_queue.registry import exception_types

# Open-age buckets (since first seen): what a lead scans for "is anything rotting".
AGE_BUCKETS = (("under_1d", 0, 1), ("1_7d", 1, 7), ("7_30d", 7, 30), ("over_30d", 30, None))


AGE_LABELS = {
    "under_1d": "< 1 day",
    "1_7d": "1–7 days",
    "7_30d": "7–30 days",
    "over_30d": "> 30 days",
}


def _age_counts(now) -> dict:
    counts = {}
    for name, low, high in AGE_BUCKETS:
        match = Q(first_seen_at__lte=now - timedelta(days=low))
        if high is not None:
            match &= Q(first_seen_at__gt=now - timedelta(days=high))
        counts[name] = Count("id", filter=match)
    return counts


def get_queue_ages(*, queue: str) -> dict:
    """Open (open or assigned) items of one queue: count, overdue (past due), unassigned, the
    oldest's age in hours, counts by age since first seen, and the same by type; resolved or
    dismissed in the last 7 days. Two queries."""
    now = timezone.now()
    items = ExceptionItem.objects.filter(queue=queue)
    open_items = items.filter(status__in=ExceptionItem.OPEN_STATUSES)
    by_type = list(
        open_items.values("type_code")
        .annotate(
            open=Count("id"),
            overdue=Count("id", filter=Q(due_at__lt=now)),
            oldest=Min("first_seen_at"),
            **_age_counts(now),
        )
        .order_by("-open", "type_code")
    )
    closed_7d = items.filter(resolved_at__gte=now - timedelta(days=7)).count()
    oldest = min((row["oldest"] for row in by_type), default=None)
    return {
        "queue": queue,
        "label": Queue(queue).label,
        "open": sum(row["open"] for row in by_type),
        "overdue": sum(row["overdue"] for row in by_type),
        "unassigned": open_items.filter(assignee__isnull=True).count(),
        "oldest_first_seen_at": oldest.isoformat() if oldest else None,
        "oldest_age_hours": _hours(now - oldest) if oldest else None,
        "ages": {name: sum(row[name] for row in by_type) for name, _, _ in AGE_BUCKETS},
        "closed_last_7_days": closed_7d,
        "by_type": [
            {
                "type": row["type_code"],
                "open": row["open"],
                "overdue": row["overdue"],
                "oldest_age_hours": _hours(now - row["oldest"]),
                "ages": {name: row[name] for name, _, _ in AGE_BUCKETS},
            }
            for row in by_type
        ],
    }


def _hours(delta: timedelta) -> int:
    return int(delta.total_seconds() // 3600)


def age_text(hours: int | None) -> str:
    if hours is None:
        return "–"
    return f"{hours} h" if hours < 48 else f"{hours // 24} d"


def present_queue_ages(data: dict) -> dict:
    """Ages in words, and the age buckets as a share of the open items (for the strip)."""
    total = data["open"] or 1
    return {
        "oldest": age_text(data["oldest_age_hours"]),
        "strip": [
            {
                "name": label,
                "count": data["ages"][name],
                "width": round(data["ages"][name] * 100 / total, 1),
                "css": f"seg-age-{i}",
            }
            for i, (name, label) in enumerate(AGE_LABELS.items())
            if data["ages"][name]
        ],
        "types": [{**row, "oldest": age_text(row["oldest_age_hours"])} for row in data["by_type"]],
    }


def queue_ages(queue: str):
    def compute(*, user=None) -> dict:
        return get_queue_ages(queue=queue)

    return compute


def queue_ages_table():
    """The panel's table as a file (config/exports.py): open, overdue and oldest per type."""
    from config.exports import NUMBER, Column, PanelTable

    def title(row: dict) -> str:
        found = exception_types.get(row["type"])
        return found.title if found is not None else row["type"]

    return PanelTable(
        columns=[
            Column("Type", title),
            Column("Open", "open", NUMBER),
            Column("Overdue", "overdue", NUMBER),
            Column("Oldest", "oldest"),
        ],
        rows=lambda data, view: (view or {}).get("types", []),
    )


def register() -> None:
    from config import policy
    from config.registry import Panel, panels
    from integrations.panels import SYSTEMS_TABLE, integration_health, present_health

    for order, queue in ((40, Queue.FINANCE), (40, Queue.PMO), (20, Queue.OPERATIONS)):
        panels.register(
            f"exceptions:queue-ages:{queue.value}",
            Panel(
                key=f"exceptions:queue-ages:{queue.value}",
                title=f"{queue.label} queue: counts and ages",
                dashboard=queue.value,
                compute=queue_ages(queue.value),
                template="exceptions_queue/panels/queue_ages.html",
                roles=(queue.value,),
                order=order,
                extra={"present": present_queue_ages, "table": queue_ages_table()},
            ),
        )
    panels.register(
        "exceptions:operations-integration-health",
        Panel(
            key="exceptions:operations-integration-health",
            title="Failed syncs, dead letters and breakers",
            dashboard="operations",
            compute=integration_health,
            template="integrations/panels/operations_health.html",
            roles=policy.roles_for("integration_health"),
            order=10,
            extra={
                "alias_of": "integration_health",
                "wide": True,
                "table": SYSTEMS_TABLE,
                "present": present_health,
            },
        ),
    )
