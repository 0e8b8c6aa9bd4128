"""Operations dashboard panel "Demo traffic": whether the traffic simulator is on, what it sent
lately, and the switch (a POST to ``billing:demo_traffic_switch``). Not registered in
production (``DJANGO_ENV=production``): a demo switch has no place there."""

from decimal import Decimal

from django.utils import timezone
from django.utils.dateparse import parse_datetime

from billing.demo import traffic
from integrations.models import InboundEvent

RECENT_ROWS = 8  # the last deliveries shown: one or two ticks

EVENT_WORDS = {
    "psa.time_entry.approved": "Time approved",
    "psa.time_entry.retracted": "Time sent back",
    "psa.project.updated": "Project or phase updated",
    "psa.milestone.completed": "Milestone completed",
    "crm.opportunity.closed_won": "Deal won",
    "crm.account.upserted": "Account changed",
    "crm.contact.upserted": "Contact changed",
    "erp.customer.upserted": "ERP customer changed",
    "erp.invoice.status_changed": "Invoice sent or paid",
}
SYSTEM_WORDS = {"crm": "CRM", "psa": "PSA", "erp": "ERP"}


def get_demo_traffic(*, user=None) -> dict:
    """The simulator's ``status()`` and its last deliveries (JSON: also ``/api/v1/metrics/``)."""
    recent = (
        traffic.simulated_events()
        .order_by("-id")
        .values("webhook_id", "event_type", "status", "received_at", "system__kind")[:RECENT_ROWS]
    )
    return {
        **traffic.status(),
        "recent": [
            {
                "webhook_id": row["webhook_id"],
                "event_type": row["event_type"],
                "system": row["system__kind"],
                "status": row["status"],
                "received_at": row["received_at"].isoformat(),
            }
            for row in recent
        ],
    }


def _ago(value: str | None) -> str:
    if not value:
        return "never"
    seconds = int((timezone.now() - parse_datetime(value)).total_seconds())
    if seconds < 90:
        return f"{max(seconds, 0)} s ago"
    if seconds < 5400:
        return f"{seconds // 60} min ago"
    return f"{seconds // 3600} h ago"


def _type_title(code: str) -> str:
    from exceptions_queue.registry import exception_types

    registered = exception_types.get(code)
    return registered.title if registered else code.replace("_", " ")


def _words(event_type: str) -> str:
    return EVENT_WORDS.get(event_type, event_type or "Not understood")


def present_demo_traffic(data: dict) -> dict:
    """Words for the template: state, timing, counts by kind of event, the recent deliveries."""
    statuses = dict(InboundEvent.Status.choices)
    is_on = data["state"] == "on"
    interval = data["interval_seconds"]
    return {
        "is_on": is_on,
        "state": "On" if is_on else "Off",
        "every": f"every {interval:g} s" if interval else "",
        "last_tick": _ago(data["last_tick_at"]),
        "hours_free": f"{Decimal(data['hours_free_this_week']):,.0f}"
        if Decimal(data["hours_free_this_week"])
        else "",
        "by_type": [
            {"label": _words(code), "count": count}
            for code, count in sorted(
                data["sent_last_hour_by_type"].items(), key=lambda item: -item[1]
            )
        ],
        "waiting": [_type_title(code) for code in data["exception_types_waiting"]],
        "recent": [
            {
                "when": _ago(row["received_at"]),
                "what": _words(row["event_type"]),
                "system": SYSTEM_WORDS.get(row["system"], row["system"]),
                "answer": statuses.get(row["status"], row["status"]),
                "status": row["status"],
            }
            for row in data["recent"]
        ],
    }


def register() -> None:
    from django.conf import settings

    from billing.panels.tables import DEMO_TRAFFIC_TABLE
    from config.registry import Panel, panels
    from config.roles import OPERATIONS

    if settings.PRODUCTION:
        return
    panels.register(
        "billing:demo-traffic",
        Panel(
            key="billing:demo-traffic",
            title="Demo traffic",
            dashboard="operations",
            compute=get_demo_traffic,
            template="billing/panels/demo_traffic.html",
            roles=(OPERATIONS,),
            order=90,
            extra={"present": present_demo_traffic, "table": DEMO_TRAFFIC_TABLE},
        ),
    )
