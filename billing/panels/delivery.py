"""Utilization and project margin (docs/contract.md §6)."""

from datetime import timedelta
from decimal import Decimal

from django.db.models import Exists, OuterRef, Q

from billing.models import Invoice, InvoiceLine, Person, Project, TimeEntry
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
    pairs_to_reporting,
    percent,
    reporting,
    reporting_currency,
    today,
)
from billing.panels.scope import Scope, monday_of
from billing.panels.trends import margin_weekly, utilization_weekly

DEFAULT_WEEKS, MAX_WEEKS = 4, 26  # full Monday-Sunday weeks before the current one
NON_VOID = [s for s in Invoice.Status.values if s != Invoice.Status.VOID]
# Lines that bill a contract, not entries: a fee per milestone, per retainer month, its overage.
CONTRACT_LINES = (InvoiceLine.Kind.MILESTONE, InvoiceLine.Kind.RETAINER, InvoiceLine.Kind.OVERAGE)


def _weeks(value) -> int:
    try:
        weeks = int(value)
    except (TypeError, ValueError):
        return DEFAULT_WEEKS
    return min(max(weeks, 1), MAX_WEEKS)


def _utilization_window(scope: Scope, weeks: int) -> tuple:
    """``weeks`` full weeks before the current one; a period filter gives its full weeks (the
    last ending before the current week)."""
    end = monday_of(today()) - timedelta(days=1)
    if scope.end:
        end = min(end, monday_of(scope.end + timedelta(days=1)) - timedelta(days=1))
    if scope.start:
        first = monday_of(scope.start + timedelta(days=6))  # the first Monday on or after it
        weeks = min(max((end - first).days // 7 + 1, 1), MAX_WEEKS)
    return end - timedelta(weeks=weeks) + timedelta(days=1), end, weeks


def _hours_in_scope(scope: Scope) -> Q:
    """The time a utilization counts: on the client's or project's projects, of the entity's people."""
    q = Q()
    if scope.customer:
        q &= Q(project__customer_id=scope.customer)
    if scope.project:
        q &= Q(psa_project_id=scope.project)
    if scope.legal_entity:
        q &= Q(
            person_email__in=Person.objects.filter(legal_entity__code=scope.legal_entity).values(
                "email"
            )
        )
    return q


def get_utilization(*, user=None, weeks=DEFAULT_WEEKS, **params) -> dict:
    """Billed hours (``billed_hours`` of rated or invoiced entries) over capacity
    (``weekly_capacity_hours`` x weeks) per person and per role, over the last ``weeks`` full
    weeks (Monday to Sunday; default 4, at most 26). All recorded hours (any status but
    retracted) are shown beside them. Time of someone with no Person row has no capacity: it
    is listed apart. Filters: a period gives the window; a client or project counts only the
    hours on it (against everyone's capacity); an entity, only its people. Three queries."""
    scope = Scope.parse(params)
    start, end, weeks = _utilization_window(scope, _weeks(weeks))
    in_scope = _hours_in_scope(scope)
    booked = _booked(start, end, in_scope)
    people, roles = _utilization_of_people(booked, weeks, scope)
    billed_total = sum((r["billed"] for r in roles.values()), ZERO)
    capacity_total = sum((r["capacity"] for r in roles.values()), ZERO)
    trend_weeks = scope.weeks(end)
    return {
        "filters": scope.as_json(),
        "weekly": utilization_weekly(trend_weeks, in_scope, capacity_total / weeks),
        "weeks": weeks,
        "start": start.isoformat(),
        "end": end.isoformat(),
        "billed_hours": str(billed_total),
        "capacity_hours": str(capacity_total),
        "utilization": percent(billed_total, capacity_total),
        "by_person": people,
        "by_role": [
            {
                "role": code,
                "people": r["people"],
                "billed_hours": str(r["billed"]),
                "hours": str(r["hours"]),
                "capacity_hours": str(r["capacity"]),
                "utilization": percent(r["billed"], r["capacity"]),
            }
            for code, r in sorted(roles.items())
        ],
        "without_person": [
            {
                "email": email,
                "billed_hours": str(from_exact_sum(row["billed"], HOURS)),
                "hours": str(from_exact_sum(row["hours"], HOURS)),
            }
            for email, row in sorted(booked.items())
        ],
    }


def _booked(start, end, in_scope: Q) -> dict:
    """Hours per person email over the weeks (rated or invoiced ones as ``billed``)."""
    return {
        row["person_email"]: row
        for row in TimeEntry.objects.filter(in_scope, work_date__range=(start, end))
        .exclude(status=TimeEntry.Status.RETRACTED)
        .values("person_email")
        .annotate(
            billed=exact_sum("billed_hours", HOURS, filter=Q(status__in=BILLED)),
            hours=exact_sum("hours", HOURS),
        )
        .order_by()
    }


def _utilization_of_people(booked: dict, weeks: int, scope: Scope) -> tuple[list, dict]:
    """Rows per person with a Person row (taken out of ``booked``) and sums per role."""
    people, roles = [], {}
    staff = Person.objects.select_related("role").order_by("email")
    if scope.legal_entity:
        staff = staff.filter(legal_entity__code=scope.legal_entity)
    for person in staff:
        row = booked.pop(person.email, {})
        billed, hours = (
            from_exact_sum(row.get("billed"), HOURS),
            from_exact_sum(row.get("hours"), HOURS),
        )
        capacity = person.weekly_capacity_hours * weeks
        people.append(
            {
                "email": person.email,
                "name": person.name,
                "role": person.role.code,
                "billed_hours": str(billed),
                "hours": str(hours),
                "capacity_hours": str(capacity),
                "utilization": percent(billed, capacity),
            }
        )
        role = roles.setdefault(
            person.role.code, {"billed": ZERO, "hours": ZERO, "capacity": ZERO, "people": 0}
        )
        role["billed"] += billed
        role["hours"] += hours
        role["capacity"] += capacity
        role["people"] += 1
    people.sort(key=lambda p: (-Decimal(p["utilization"] or -1), p["email"]))
    return people, roles


def get_project_margin(*, user=None, **params) -> dict:
    """Per live project (not closed): billed amount against cost, and margin %.

    Billed, in the contract's currency: the amounts of its rated or invoiced entries when the
    contract is time and materials, plus its milestone, retainer and overage lines on non-void
    invoices that no credit line reverses (a retainer's or a fixed fee's entries are paid by
    those lines, so their own amounts would count twice). Cost: ``cost_amount`` of every entry
    but retracted ones (non-billable and held time cost too), converted to the contract's
    currency with FX when the person's entity bills another one; without a rate the margin is
    not computed and the cost is listed as unconverted. Filters (``billing.panels.scope``): the
    projects of the entity, client or project; entries worked and lines invoiced in the period.
    Six queries (two for the weekly trend).
    """
    scope = Scope.parse(params)
    entries, lines = _margin_sources(scope)
    billed, costs = _billed_and_costs(entries)
    projects = list(
        Project.objects.filter(Q(pk__in=billed) | Q(contract_id__in=lines))
        .values(
            "id",
            "name",
            "psa_project_id",
            "customer__name",
            "contract_id",
            "contract__currency",
            "contract__billing_model",
        )
        .order_by("name", "id")
    )
    pairs = {(c, p["contract__currency"]) for p in projects for c in costs.get(p["id"], {})}
    pairs |= pairs_to_reporting({p["contract__currency"] for p in projects})
    pairs |= pairs_to_reporting({c for cost in costs.values() for c in cost})
    fx = FxTable.load(pairs)
    rows, billed_all, cost_all = _margin_rows(projects, billed, lines, costs, fx)
    billed_total = reporting(billed_all, fx)
    cost_total = reporting(cost_all, fx)
    margin_total = Decimal(billed_total["amount"]) - Decimal(cost_total["amount"])
    complete = not billed_total["unconverted"] and not cost_total["unconverted"]
    return {
        "filters": scope.as_json(),
        "reporting_currency": reporting_currency(),
        "weekly": margin_weekly(scope, scope.weeks(today()), _LIVE, fx),
        "billed": billed_total,
        "cost": cost_total,
        "margin": money(margin_total, reporting_currency()) if complete else None,
        "margin_percent": percent(margin_total, Decimal(billed_total["amount"]))
        if complete
        else None,
        "projects": rows,
    }


def _margin_sources(scope: Scope) -> tuple:
    """Entry sums per live project and cost currency; contract line sums per contract."""
    entries = (
        TimeEntry.objects.filter(scope.entries(), project__status__in=_LIVE)
        .exclude(status=TimeEntry.Status.RETRACTED)
        .values("project_id", "cost_currency")
        .annotate(**billed_and_cost_sums())
        .order_by()
    )
    reversed_ = InvoiceLine.objects.filter(reverses=OuterRef("pk"), invoice__status__in=NON_VOID)
    lines = dict(
        InvoiceLine.objects.filter(
            scope.projects("contract__project__") & scope.dates("invoice__invoice_date"),
            kind__in=CONTRACT_LINES,
            invoice__status__in=NON_VOID,
            contract__project__status__in=_LIVE,
        )
        .exclude(Exists(reversed_))
        .values("contract_id")
        .annotate(amount=exact_sum("amount"))
        .order_by()
        .values_list("contract_id", "amount")
    )
    return entries, lines


def _billed_and_costs(entries) -> tuple[dict, dict]:
    billed: dict[int, Decimal] = {}
    costs: dict[int, dict[str, Decimal]] = {}
    for row in entries:
        billed[row["project_id"]] = billed.get(row["project_id"], ZERO) + from_exact_sum(
            row["billed"]
        )
        if row["cost"]:
            add_amounts(
                costs.setdefault(row["project_id"], {}),
                row["cost_currency"],
                from_exact_sum(row["cost"]),
            )
    return billed, costs


def _margin_rows(projects, billed, lines, costs, fx) -> tuple[list, dict, dict]:
    rows, billed_all, cost_all = [], {}, {}
    for project in projects:
        currency = project["contract__currency"]
        amount = billed.get(project["id"], ZERO) + from_exact_sum(lines.get(project["contract_id"]))
        cost, missing = fx.total(costs.get(project["id"], {}), currency)
        add_amounts(billed_all, currency, amount)
        for cost_currency, value in costs.get(project["id"], {}).items():
            add_amounts(cost_all, cost_currency, value)
        margin = None if missing else amount - cost
        rows.append(
            {
                "id": project["id"],
                "name": project["name"],
                "psa_project_id": project["psa_project_id"],
                "client": project["customer__name"],
                "billing_model": project["contract__billing_model"],
                "billed": money(amount, currency),
                "cost": money(cost, currency),
                "unconverted_cost": money_list(missing),
                "margin": None if margin is None else money(margin, currency),
                "margin_percent": None if margin is None else percent(margin, amount),
            }
        )
    return rows, billed_all, cost_all


_LIVE = (Project.Status.PROVISIONING, Project.Status.ACTIVE, Project.Status.ON_HOLD)
