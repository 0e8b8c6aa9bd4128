"""Drill-down links and weekly trend charts of billing's panels (docs/dashboards.md): each
figure links to the list page filtered to the rows behind it, keeping the dashboard's filters
that page has a parameter for (``/time/``: entity, client, project and work dates; ``/invoices/``: entity,
client, project, one month's period; ``/exceptions/<queue>/``: type)."""

from datetime import date, timedelta
from decimal import Decimal

from django.urls import reverse

from billing.models import TimeEntry
from billing.panels.common import BILLED
from billing.panels.scope import link
from config.charts import Point, column_chart

# The statuses the figures count: billed hours, and every entry but a retracted one for cost;
# the time list takes ``status`` repeated.
BILLED_STATUSES = [str(status) for status in BILLED]
COSTED = [s for s in TimeEntry.Status.values if s != TimeEntry.Status.RETRACTED]


def _day(text: str | None) -> date | None:
    return date.fromisoformat(text) if text else None


def time_url(filters: dict, *, after: date | None = None, before: date | None = None, **query):
    """``/time/`` for the dashboard's project and period, narrowed to ``after``–``before``."""
    start, end = _day(filters.get("from")), _day(filters.get("to"))
    if after and (not start or after > start):
        start = after
    if before and (not end or before < end):
        end = before
    return link(
        reverse("billing:time_entry_list"),
        {
            "project": filters.get("project") or "",
            "customer": filters.get("customer") or "",
            "legal_entity": filters.get("legal_entity") or "",
        },
        query,
        {
            "work_date_after": start.isoformat() if start else "",
            "work_date_before": end.isoformat() if end else "",
        },
    )


def invoice_url(filters: dict, **query) -> str:
    start, end = _day(filters.get("from")), _day(filters.get("to"))
    one_month = start and end and (start.year, start.month) == (end.year, end.month)
    return link(
        reverse("billing:invoice_list"),
        query,
        {
            "legal_entity": filters.get("legal_entity") or "",
            "customer": filters.get("customer") or "",
            "project": filters.get("project") or "",
            "period": start.strftime("%Y-%m") if one_month and start else "",
        },
    )


def _week_label(week: str) -> str:
    return date.fromisoformat(week).strftime("%d %b")


def _week_bounds(week: str) -> tuple[date, date]:
    monday = date.fromisoformat(week)
    return monday, monday + timedelta(days=6)


def unbilled_trend(data: dict) -> dict:
    filters, currency = data["filters"], data["reporting_currency"]
    points = []
    for week in data["weekly"]:
        monday, sunday = _week_bounds(week["week"])
        amount = Decimal(week["reporting"]["amount"])
        points.append(
            Point(
                label=_week_label(week["week"]),
                value=amount,
                css="seg-age-1",
                title=f"Week of {week['week']}: {amount:,.0f} {currency}, {week['hours']} h "
                f"in {week['entries']} entries",
                href=time_url(filters, after=monday, before=sunday, status="rated"),
            )
        )
    return column_chart(points)


def latency_trend(data: dict) -> dict:
    """Each week's column opens the invoices posted that week (any status after posting)."""
    points = []
    for week in data["weekly"]:
        monday, sunday = _week_bounds(week["week"])
        points.append(
            Point(
                label=_week_label(week["week"]),
                value=Decimal(week["mean_hours"]) if week["mean_hours"] else None,
                css="seg-age-2",
                title=f"Week of {week['week']}: {week['invoices']} invoices posted, "
                f"mean {week['mean_hours'] or '–'} h from last approval",
                href=invoice_url(
                    data["filters"],
                    posted_after=monday.isoformat(),
                    posted_before=sunday.isoformat(),
                ),
            )
        )
    return column_chart(points)


def utilization_trend(data: dict) -> dict:
    points = []
    for week in data["weekly"]:
        monday, sunday = _week_bounds(week["week"])
        value = week["utilization"]
        level = Decimal(value) if value is not None else None
        css = "seg-muted" if level is None else "seg-bad" if level > 100 else "seg-ok"
        points.append(
            Point(
                label=_week_label(week["week"]),
                value=level,
                css=css if level is None or level >= 60 else "seg-warn",
                title=f"Week of {week['week']}: {value or '–'} % ({week['billed_hours']} h "
                f"billed of {week['capacity_hours']} h)",
                href=time_url(data["filters"], after=monday, before=sunday, status=BILLED_STATUSES),
            )
        )
    return column_chart(points)


def margin_trend(data: dict) -> dict:
    points = []
    for week in data["weekly"]:
        monday, sunday = _week_bounds(week["week"])
        margin = Decimal(week["margin"]["amount"]) if week["margin"] else None
        points.append(
            Point(
                label=_week_label(week["week"]),
                value=margin,
                css="seg-bad" if margin is not None and margin < 0 else "seg-ok",
                title=f"Week of {week['week']}: margin "
                f"{'–' if margin is None else f'{margin:,.0f}'} {data['reporting_currency']} "
                f"({week['margin_percent'] or '–'} %) on {week['billed']['amount']} billed",
                href=time_url(data["filters"], after=monday, before=sunday, status=COSTED),
            )
        )
    return column_chart(points)
