"""Unbilled time (docs/contract.md §6): rated entries on no active invoice line, aged by work date."""

from datetime import timedelta
from decimal import Decimal

from django.db.models import Case as CaseWhen
from django.db.models import CharField, Count, Q, Value, When

from billing.models import Project, TimeEntry
from billing.panels.common import (
    HOURS,
    ZERO,
    FxTable,
    add_amounts,
    exact_sum,
    from_exact_sum,
    money_list,
    pairs_to_reporting,
    reporting,
    reporting_currency,
    today,
)
from billing.panels.scope import Scope
from billing.panels.trends import unbilled_weekly
from billing.selectors.time import unbilled_time

# Age in days = today - work_date; a future work date counts as 0.
BUCKETS = ("0-30", "31-60", "61-90", "90+")
TOP = 10  # rows by client and by project; the rest are totalled as "others"


def _bucket(on):
    return CaseWhen(
        When(work_date__gte=on - timedelta(days=30), then=Value("0-30")),
        When(work_date__gte=on - timedelta(days=60), then=Value("31-60")),
        When(work_date__gte=on - timedelta(days=90), then=Value("61-90")),
        default=Value("90+"),
        output_field=CharField(),
    )


class _Tally:
    """Hours and amounts (per currency) of one row, per age bucket."""

    def __init__(self) -> None:
        self.hours = dict.fromkeys(BUCKETS, ZERO)
        self.amounts: dict[str, dict[str, Decimal]] = {b: {} for b in BUCKETS}
        self.entries = 0

    def add(self, bucket: str, currency: str, hours: Decimal, amount: Decimal, n: int) -> None:
        self.hours[bucket] += hours
        add_amounts(self.amounts[bucket], currency, amount)
        self.entries += n

    def merge(self, other: "_Tally") -> None:
        for bucket in BUCKETS:
            self.hours[bucket] += other.hours[bucket]
            for currency, amount in other.amounts[bucket].items():
                add_amounts(self.amounts[bucket], currency, amount)
        self.entries += other.entries

    def all_amounts(self) -> dict[str, Decimal]:
        total: dict[str, Decimal] = {}
        for bucket in BUCKETS:
            for currency, amount in self.amounts[bucket].items():
                add_amounts(total, currency, amount)
        return total

    def as_json(self, fx: FxTable) -> dict:
        amounts = self.all_amounts()
        return {
            "entries": self.entries,
            "hours": str(sum(self.hours.values(), ZERO)),
            "amounts": money_list(amounts),
            "reporting": reporting(amounts, fx),
            "aging": [
                {
                    "bucket": bucket,
                    "hours": str(self.hours[bucket]),
                    "amounts": money_list(self.amounts[bucket]),
                    "reporting": reporting(self.amounts[bucket], fx),
                }
                for bucket in BUCKETS
            ],
        }


def unbilled_entries(scope: Scope) -> Q:
    """Rated time of a project in scope, on no active invoice line."""
    return unbilled_time() & scope.entries()


def get_unbilled_time(*, user=None, **params) -> dict:
    """Hours and amount of rated time not yet on an active invoice line, aged 0-30, 31-60,
    61-90 and 90+ days by work date; totals, the top clients and projects by amount in the
    reporting currency, and the weekly trend by work week. Filters: ``billing.panels.scope``.
    Three queries plus one for FX rates."""
    on = today()
    scope = Scope.parse(params)
    unbilled = unbilled_entries(scope)
    by_project = _unbilled_by_project(on, unbilled)
    projects = {
        p["id"]: p
        for p in Project.objects.filter(pk__in=by_project).values(
            "id", "name", "psa_project_id", "customer_id", "customer__name"
        )
    }
    by_client: dict[int, _Tally] = {}
    total = _Tally()
    for project_id, tally in by_project.items():
        by_client.setdefault(projects[project_id]["customer_id"], _Tally()).merge(tally)
        total.merge(tally)
    currencies = {c for t in by_project.values() for c in t.all_amounts()}
    fx = FxTable.load(pairs_to_reporting(currencies), on=on)
    project_rows = [
        {
            "id": pid,
            "name": projects[pid]["name"],
            "psa_project_id": projects[pid]["psa_project_id"],
            "client": projects[pid]["customer__name"],
            **tally.as_json(fx),
        }
        for pid, tally in by_project.items()
    ]
    names = {p["customer_id"]: p["customer__name"] for p in projects.values()}
    client_rows = [
        {"id": cid, "name": names[cid], **tally.as_json(fx)} for cid, tally in by_client.items()
    ]
    return {
        "as_of": on.isoformat(),
        "filters": scope.as_json(),
        "reporting_currency": reporting_currency(),
        "buckets": list(BUCKETS),
        "total": total.as_json(fx),
        "by_client": _top(client_rows),
        "by_project": _top(project_rows),
        "weekly": unbilled_weekly(scope, scope.weeks(on), unbilled, fx),
    }


def _unbilled_by_project(on, unbilled: Q) -> dict[int, "_Tally"]:
    """Rated time on no active invoice line, tallied per project (aged as of ``on``)."""
    rows = (
        TimeEntry.objects.filter(unbilled)
        .annotate(bucket=_bucket(on))
        .values("project_id", "currency", "bucket")
        .annotate(
            entries=Count("id"),
            hours=exact_sum("billed_hours", HOURS),
            amount=exact_sum("amount"),
        )
        .order_by()
    )
    by_project: dict[int, _Tally] = {}
    for row in rows:
        by_project.setdefault(row["project_id"], _Tally()).add(
            row["bucket"],
            row["currency"],
            from_exact_sum(row["hours"], HOURS),
            from_exact_sum(row["amount"]),
            row["entries"],
        )
    return by_project


def _rank(row: dict):
    return (-Decimal(row["reporting"]["amount"]), -Decimal(row["hours"]), row["name"], row["id"])


def _top(rows: list[dict]) -> dict:
    """The TOP rows by reporting amount (then hours), and the rest counted and totalled."""
    rows.sort(key=_rank)
    top, rest = rows[:TOP], rows[TOP:]
    others_amounts: dict[str, Decimal] = {}
    for row in rest:
        for item in row["amounts"]:
            add_amounts(others_amounts, item["currency"], Decimal(item["amount"]))
    return {
        "count": len(rows),
        "top": top,
        "others": {
            "count": len(rest),
            "hours": str(sum((Decimal(r["hours"]) for r in rest), ZERO)),
            "amounts": money_list(others_amounts),
        },
    }
