"""Weekly trends of the finance and PMO figures (docs/dashboards.md "Weekly trends"): one
aggregate query per trend, grouped by week (``TruncWeek``, Monday to Sunday), whatever the
number of rows. Money stays per currency and is totalled only through the panel's ``FxTable``
(the trend's currencies are a subset of the panel's: the same rows, over fewer weeks)."""

from datetime import date, timedelta
from decimal import Decimal

from django.db.models import (
    Avg,
    Count,
    DateField,
    DurationField,
    Exists,
    ExpressionWrapper,
    F,
    Max,
    OuterRef,
    Q,
    Subquery,
)
from django.db.models.functions import TruncDate, TruncWeek

from billing.models import Invoice, InvoiceLine, InvoiceLineEntry, TimeEntry
from billing.panels.common import (
    BILLED,
    HOURS,
    ZERO,
    FxTable,
    add_amounts,
    billed_and_cost_sums,
    exact_sum,
    from_exact_sum,
    money,
    money_list,
    one_decimal,
    percent,
    reporting,
    reporting_currency,
)
from billing.panels.scope import Scope


def _week(field: str) -> TruncWeek:
    return TruncWeek(field, output_field=DateField())


def _span(weeks: list[date]) -> Q:
    return Q(work_date__gte=weeks[0], work_date__lte=weeks[-1] + timedelta(days=6))


def _monday(value) -> date:
    return value.date() if hasattr(value, "date") and callable(value.date) else value


def unbilled_weekly(scope: Scope, weeks: list[date], unbilled: Q, fx: FxTable) -> list[dict]:
    """Rated time still on no invoice line, by the week it was worked: hours, entries, amounts
    per currency and in the reporting currency."""
    rows = (
        TimeEntry.objects.filter(unbilled, _span(weeks))
        .annotate(week=_week("work_date"))
        .values("week", "currency")
        .annotate(
            entries=Count("id"),
            hours=exact_sum("billed_hours", HOURS),
            amount=exact_sum("amount"),
        )
        .order_by()
    )
    tally = {week: {"entries": 0, "hours": ZERO, "amounts": {}} for week in weeks}
    for row in rows:
        week = tally[_monday(row["week"])]
        week["entries"] += row["entries"]
        week["hours"] += from_exact_sum(row["hours"], HOURS)
        if row["amount"]:
            add_amounts(week["amounts"], row["currency"], from_exact_sum(row["amount"]))
    return [
        {
            "week": week.isoformat(),
            "entries": t["entries"],
            "hours": str(t["hours"]),
            "amounts": money_list(t["amounts"]),
            "reporting": reporting(t["amounts"], fx),
        }
        for week, t in tally.items()
    ]


def latency_weekly(scope: Scope, weeks: list[date]) -> list[dict]:
    """Invoices posted per week (non-void, with time entries, not re-approved after posting):
    how many, and the mean hours from their last entry's approval to posting (a median is not
    an aggregate both databases have; the panel's median and p90 are over its window)."""
    last_approved = (
        InvoiceLineEntry.objects.filter(line__invoice=OuterRef("pk"))
        .values("line__invoice")
        .annotate(last=Max("time_entry__approved_at"))
        .values("last")
    )
    start = weeks[0]
    end = weeks[-1] + timedelta(days=7)
    rows = (
        Invoice.objects.filter(scope.invoices())
        .exclude(status=Invoice.Status.VOID)
        .annotate(posted_on=TruncDate("posted_at"), last=Subquery(last_approved))
        .filter(posted_on__gte=start, posted_on__lt=end, last__lte=F("posted_at"))
        .annotate(week=_week("posted_at"))
        .values("week")
        .annotate(
            invoices=Count("id"),
            mean=Avg(ExpressionWrapper(F("posted_at") - F("last"), output_field=DurationField())),
        )
        .order_by()
    )
    found = {_monday(row["week"]): row for row in rows}
    out = []
    for week in weeks:
        row = found.get(week)
        mean = row["mean"] if row else None
        out.append(
            {
                "week": week.isoformat(),
                "invoices": row["invoices"] if row else 0,
                "mean_hours": one_decimal(Decimal(mean.total_seconds()) / 3600) if mean else None,
            }
        )
    return out


def utilization_weekly(
    weeks: list[date], hours_in_scope: Q, capacity_per_week: Decimal
) -> list[dict]:
    """Billed hours per week over the week's capacity (the people in scope)."""
    rows = (
        TimeEntry.objects.filter(hours_in_scope, _span(weeks), status__in=BILLED)
        .annotate(week=_week("work_date"))
        .values("week")
        .annotate(billed=exact_sum("billed_hours", HOURS))
        .order_by()
    )
    billed = {_monday(row["week"]): from_exact_sum(row["billed"], HOURS) for row in rows}
    return [
        {
            "week": week.isoformat(),
            "billed_hours": str(billed.get(week, ZERO)),
            "capacity_hours": str(capacity_per_week),
            "utilization": percent(billed.get(week, ZERO), capacity_per_week),
        }
        for week in weeks
    ]


def margin_weekly(scope: Scope, weeks: list[date], live, fx: FxTable) -> list[dict]:
    """Billed − cost per week in the reporting currency: T&M entries' amounts and every entry's
    cost by the week worked; milestone, retainer and overage lines by their invoice date. A week
    with an amount that has no FX rate has no margin (``null``), never a guess."""
    billed: dict[date, dict[str, Decimal]] = {week: {} for week in weeks}
    cost: dict[date, dict[str, Decimal]] = {week: {} for week in weeks}
    entries = (
        TimeEntry.objects.filter(scope.entries(), _span(weeks), project__status__in=live)
        .exclude(status=TimeEntry.Status.RETRACTED)
        .annotate(week=_week("work_date"))
        .values("week", "project__contract__currency", "cost_currency")
        .annotate(**billed_and_cost_sums())
        .order_by()
    )
    for row in entries:
        week = _monday(row["week"])
        add_amounts(billed[week], row["project__contract__currency"], from_exact_sum(row["billed"]))
        if row["cost"]:
            add_amounts(cost[week], row["cost_currency"], from_exact_sum(row["cost"]))
    for week, currency, amount in _contract_lines(scope, weeks, live):
        add_amounts(billed[week], currency, amount)
    return [_margin_week(week, billed[week], cost[week], fx) for week in weeks]


def _contract_lines(scope: Scope, weeks: list[date], live):
    non_void = [s for s in Invoice.Status.values if s != Invoice.Status.VOID]
    kinds = (InvoiceLine.Kind.MILESTONE, InvoiceLine.Kind.RETAINER, InvoiceLine.Kind.OVERAGE)
    reversed_ = InvoiceLine.objects.filter(reverses=OuterRef("pk"), invoice__status__in=non_void)
    rows = (
        InvoiceLine.objects.filter(
            scope.projects("contract__project__") & scope.dates("invoice__invoice_date"),
            kind__in=kinds,
            invoice__status__in=non_void,
            contract__project__status__in=live,
            invoice__invoice_date__gte=weeks[0],
            invoice__invoice_date__lte=weeks[-1] + timedelta(days=6),
        )
        .exclude(Exists(reversed_))
        .annotate(week=_week("invoice__invoice_date"))
        .values("week", "contract__currency")
        .annotate(amount=exact_sum("amount"))
        .order_by()
    )
    for row in rows:
        yield _monday(row["week"]), row["contract__currency"], from_exact_sum(row["amount"])


def _margin_week(week: date, billed: dict, cost: dict, fx: FxTable) -> dict:
    target = reporting_currency()
    billed_total, billed_missing = fx.total(billed, target)
    cost_total, cost_missing = fx.total(cost, target)
    complete = not billed_missing and not cost_missing
    margin = billed_total - cost_total
    return {
        "week": week.isoformat(),
        "billed": money(billed_total, target),
        "cost": money(cost_total, target),
        "unconverted": money_list(_merged(billed_missing, cost_missing)),
        "margin": money(margin, target) if complete else None,
        "margin_percent": percent(margin, billed_total) if complete else None,
    }


def _merged(*amounts: dict[str, Decimal]) -> dict[str, Decimal]:
    total: dict[str, Decimal] = {}
    for each in amounts:
        for currency, amount in each.items():
            add_amounts(total, currency, amount)
    return total
