"""Dashboard figures of the runtime (docs/contract.md §6: failed syncs and dead letters by system,
breaker states). Each returns plain JSON: the panel shows it, ``/api/v1/metrics/`` serves it."""

from datetime import date, timedelta
from decimal import Decimal

from django.db.models import Count, DateField, Q
from django.db.models.functions import TruncWeek
from django.urls import reverse
from django.utils import timezone

from config.charts import Point, column_chart
from config.exports import NUMBER, Column, PanelTable
from integrations.models import CircuitBreaker, ExternalSystem, InboundEvent, OutboxMessage, SyncRun


def integration_health(*, user=None) -> dict:
    systems = (
        ExternalSystem.objects.select_related("breaker", "api_usage")
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
            **_quota(system),
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
        "weekly_dead_letters": weekly_dead_letters(),
    }


def _quota(system: ExternalSystem) -> dict:
    """The peer's API quota as last reported (Salesforce), and a pause it caused."""
    breaker = getattr(system, "breaker", None)
    paused = breaker is not None and breaker.paused_until and breaker.paused_until > timezone.now()
    usage = getattr(system, "api_usage", None)
    return {
        "paused_until": breaker.paused_until if paused else None,
        "pause_reason": breaker.last_failure if paused else "",
        "api_used": usage.used if usage else None,
        "api_allowed": usage.allowed if usage else None,
        "api_percent": f"{usage.share * 100:.1f}" if usage else None,
        "api_observed_at": usage.observed_at if usage else None,
    }


TREND_WEEKS = 12


def weekly_dead_letters() -> list[dict]:
    """Outbox messages dead-lettered per week (by ``dead_at``, Monday to Sunday), per system,
    over the last TREND_WEEKS weeks with this one: one grouped query. A message replayed since
    still counts in the week it went dead."""
    today = timezone.localdate()
    last = today - timedelta(days=today.weekday())
    weeks = [last - timedelta(weeks=n) for n in range(TREND_WEEKS - 1, -1, -1)]
    rows = (
        OutboxMessage.objects.filter(dead_at__date__gte=weeks[0])
        .annotate(week=TruncWeek("dead_at", output_field=DateField()))
        .values("week", "system__slug")
        .annotate(n=Count("id"))
        .order_by()
    )
    found: dict[date, dict[str, int]] = {week: {} for week in weeks}
    for row in rows:
        week = row["week"].date() if hasattr(row["week"], "hour") else row["week"]
        if week in found:
            found[week][row["system__slug"]] = row["n"]
    return [
        {"week": week.isoformat(), "dead": sum(by.values()), "by_system": dict(sorted(by.items()))}
        for week, by in found.items()
    ]


def outbox_url(**query) -> str:
    from urllib.parse import urlencode

    return reverse("integrations:operations") + "?" + urlencode({"tab": "outbox", **query})


def present_health(data: dict) -> dict:
    """The operations panel's drill-down links and weekly dead-letter columns."""
    points = [
        Point(
            label=date.fromisoformat(week["week"]).strftime("%d %b"),
            value=Decimal(week["dead"]),
            css="seg-bad",
            title=f"Week of {week['week']}: {week['dead']} dead-lettered"
            + "".join(f", {slug} {n}" for slug, n in week["by_system"].items()),
            href=outbox_url(
                dead_after=week["week"],
                dead_before=(date.fromisoformat(week["week"]) + timedelta(days=6)).isoformat(),
            ),
        )
        for week in data["weekly_dead_letters"]
    ]
    return {
        "trend": column_chart(points),
        "dead_url": outbox_url(status=OutboxMessage.Status.DEAD),
        "systems": [
            {
                **row,
                "dead_url": outbox_url(status=OutboxMessage.Status.DEAD, system=row["system"]),
                "failed_url": outbox_url(status=OutboxMessage.Status.FAILED, system=row["system"]),
                "pending_url": outbox_url(
                    status=OutboxMessage.Status.PENDING, system=row["system"]
                ),
            }
            for row in data["systems"]
        ],
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
