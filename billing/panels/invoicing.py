"""Invoice latency and billing cycle time (docs/contract.md §6), over a recent window of invoices.

Percentiles are computed in Python over the window's invoices (bounded: a few thousand rows
of three columns), so the figures are the same on PostgreSQL and SQLite."""

from datetime import datetime, time, timedelta
from decimal import Decimal

from django.db.models import Max, Q
from django.utils import timezone

from billing.models import Invoice
from billing.panels.common import median, one_decimal, percentile, today
from billing.panels.scope import Scope
from billing.panels.trends import latency_weekly

WINDOW_DAYS = 90  # invoices posted (latency) or approved/posted (cycle) in the last 90 days
HOUR, DAY = Decimal(3600), Decimal(86400)


def _seconds(delta: timedelta) -> Decimal:
    return Decimal(delta.days * 86400 + delta.seconds) + Decimal(delta.microseconds) / 10**6


def _summary(values: list[Decimal], unit: Decimal, unit_name: str) -> dict:
    return {
        "count": len(values),
        "unit": unit_name,
        "median": one_decimal(median(values) / unit) if values else None,
        "p90": one_decimal(percentile(values, 90) / unit) if values else None,
    }


def _window(scope: Scope, now: datetime) -> tuple[datetime, datetime]:
    """The last WINDOW_DAYS days, or the filtered period (its months, up to now)."""
    since = now - timedelta(days=WINDOW_DAYS)
    if scope.start:
        since = timezone.make_aware(datetime.combine(scope.start, time.min))
    until = now
    if scope.end:
        until = min(
            now, timezone.make_aware(datetime.combine(scope.end + timedelta(days=1), time.min))
        )
    return since, until


def get_invoice_latency(*, user=None, **params) -> dict:
    """From the approval of the last time entry on an invoice (the latest ``approved_at`` of the
    entries on its lines) to its posting in the ERP (``posted_at``): median and p90 in hours,
    over the non-void invoices posted in the last WINDOW_DAYS days. Invoices with no time entry
    (milestones, a retainer fee alone) have no latency and are counted apart, as are invoices
    whose last entry was re-approved after posting (a correction: the latency would be < 0).
    Filters (``billing.panels.scope``): entity, client, project; a period replaces the window.
    Two queries (the second, the weekly trend)."""
    scope = Scope.parse(params)
    since, now = _window(scope, timezone.now())
    rows = (
        Invoice.objects.filter(scope.invoices(), posted_at__gte=since, posted_at__lte=now)
        .exclude(status=Invoice.Status.VOID)
        .annotate(last_approved=Max("lines__entries__time_entry__approved_at"))
        .values_list("posted_at", "last_approved")
    )
    values, without_time, corrected = [], 0, 0
    for posted_at, last_approved in rows:
        if last_approved is None:
            without_time += 1
        elif last_approved > posted_at:
            corrected += 1
        else:
            values.append(_seconds(posted_at - last_approved))
    return {
        "window_days": WINDOW_DAYS,
        "since": since.isoformat(),
        "until": now.isoformat(),
        "filters": scope.as_json(),
        **_summary(values, HOUR, "hours"),
        "without_time_entries": without_time,
        "re_approved_after_posting": corrected,
        "weekly": latency_weekly(scope, scope.weeks(today())),
    }


def _period_end(invoice_date) -> datetime:
    """The end of the billed month: midnight after its last day, in TIME_ZONE."""
    return timezone.make_aware(datetime.combine(invoice_date + timedelta(days=1), time.min))


def get_billing_cycle_time(*, user=None, **params) -> dict:
    """From the end of the billed month (midnight after ``invoice_date``, its last day) to the
    invoice's approval, and to its posting: median and p90 in days, over non-void invoices
    approved (resp. posted) in the last WINDOW_DAYS days. A draft approved before its month
    ended counts with a negative time. Filters as for the latency. One query."""
    scope = Scope.parse(params)
    since, now = _window(scope, timezone.now())
    rows = (
        Invoice.objects.filter(
            scope.invoices(), Q(approved_at__gte=since) | Q(posted_at__gte=since)
        )
        .exclude(status=Invoice.Status.VOID)
        .values_list("invoice_date", "approved_at", "posted_at")
    )
    to_approval, to_posting = [], []
    for invoice_date, approved_at, posted_at in rows:
        end = _period_end(invoice_date)
        if approved_at and since <= approved_at <= now:
            to_approval.append(_seconds(approved_at - end))
        if posted_at and since <= posted_at <= now:
            to_posting.append(_seconds(posted_at - end))
    return {
        "window_days": WINDOW_DAYS,
        "since": since.isoformat(),
        "filters": scope.as_json(),
        "to_approval": _summary(to_approval, DAY, "days"),
        "to_posting": _summary(to_posting, DAY, "days"),
    }
