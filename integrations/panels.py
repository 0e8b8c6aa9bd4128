"""Dashboard figures of the runtime (docs/contract.md §6: failed syncs and dead letters by system,
breaker states). Each returns plain JSON: the panel shows it, ``/api/v1/metrics/`` serves it."""

from django.db.models import Count, Q

from config.exports import NUMBER, Column, PanelTable
from integrations.models import CircuitBreaker, ExternalSystem, InboundEvent, OutboxMessage, SyncRun


def integration_health(*, user=None) -> dict:
    systems = (
        ExternalSystem.objects.select_related("breaker")
        .annotate(
            dead=Count("outbox", filter=Q(outbox__status=OutboxMessage.Status.DEAD)),
            failed=Count("outbox", filter=Q(outbox__status=OutboxMessage.Status.FAILED)),
            pending=Count("outbox", filter=Q(outbox__status=OutboxMessage.Status.PENDING)),
        )
        .order_by("slug")
    )
    failed_syncs = dict(
        SyncRun.objects.filter(status=SyncRun.Status.FAILED)
        .values_list("system__slug")
        .annotate(n=Count("id"))
        .values_list("system__slug", "n")
    )
    rows = [
        {
            "system": system.slug,
            "kind": system.kind,
            "breaker": getattr(
                getattr(system, "breaker", None), "state", CircuitBreaker.State.CLOSED
            ),
            "dead_letters": system.dead,
            "failed": system.failed,
            "pending": system.pending,
            "failed_syncs": failed_syncs.get(system.slug, 0),
        }
        for system in systems
    ]
    events = dict(
        InboundEvent.objects.filter(
            status__in=[
                InboundEvent.Status.FAILED,
                InboundEvent.Status.DEAD,
                InboundEvent.Status.REJECTED,
            ]
        )
        .values_list("status")
        .annotate(n=Count("id"))
        .values_list("status", "n")
    )
    return {
        "systems": rows,
        "dead_letters": sum(row["dead_letters"] for row in rows),
        "open_breakers": sum(1 for row in rows if row["breaker"] != CircuitBreaker.State.CLOSED),
        "events_failed": events.get(InboundEvent.Status.FAILED, 0),
        "events_dead": events.get(InboundEvent.Status.DEAD, 0),
        "events_rejected": events.get(InboundEvent.Status.REJECTED, 0),
    }


# The systems table of the health panels as a file (config/exports.py): one row per system.
SYSTEMS_TABLE = PanelTable(
    columns=[
        Column("System", "system"),
        Column("Kind", lambda row: str(row["kind"]).upper()),
        Column("Breaker", "breaker"),
        Column("Pending", "pending", NUMBER),
        Column("Retrying", "failed", NUMBER),
        Column("Dead letters", "dead_letters", NUMBER),
        Column("Failed syncs", "failed_syncs", NUMBER),
    ],
    rows=lambda data, view: data["systems"],
)
