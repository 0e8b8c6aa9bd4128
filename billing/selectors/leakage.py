"""The revenue-leakage ledger (issue #19; docs/finance-controls/leakage.md): every billable hour
not billed on time, as one row each, with its reason, age, amount and owner.

Reasons (``REASONS``), each decided from the data as it is now:

- ``held``: on hold now (``on_hold``); the amount is what the exception item holds at risk for
  it (unknown for a closed phase or an unknown project: no rate was looked up); the owner is
  the open item's queue and assignee.
- ``written_off``: non-billable with a write-off reason (finance's write-off of held time, or
  an entry taken off a draft); the amount written off, by whom and when (the entry's first
  history row with that reason).
- ``written_down``: a write-down of a line of a non-void invoice (an ``adjustment`` line of a
  negative difference): the amount taken off, per line (the write-down is recorded against the
  line, not spread over its entries), by whoever made it.
- ``late``: on an active line of a non-void invoice whose month is after the entry's work month:
  the amount billed, and how many months late.
- ``never_billed``: rated (priced, billable), on no active line, and its work month's billing has
  passed: the month is over and a finished billing run of that month covers the entry's entity
  and customer, or the month ended more than ``NEVER_BILLED_GRACE_DAYS`` days ago.

Age is in days from the work date to the ledger's day (a future date counts as 0). Amounts are
``Money`` and every total is kept per currency, never added across. One query per reason
(five in all), whatever the number of rows.
"""

from dataclasses import dataclass, field, replace
from datetime import date
from decimal import Decimal

from billing.selectors.leakage_rows import (
    HELD,
    LATE,
    NEVER_BILLED,
    REASONS,
    WRITTEN_DOWN,
    WRITTEN_OFF,
    LeakageFilters,
    LeakageRow,
)
from billing.selectors.leakage_sources import (
    held_rows,
    late_rows,
    never_billed_rows,
    written_down_rows,
    written_off_rows,
)
from config.money import Money
from mdm.models import Customer, LegalEntity

__all__ = [
    "REASONS",
    "Group",
    "LeakageFilters",
    "LeakageRow",
    "Ledger",
    "Tally",
    "get_leakage_ledger",
    "leakage_filter_choices",
]
ZERO = Decimal("0")


@dataclass
class Tally:
    """Rows, hours and money (per currency) of a group of rows; ``unpriced`` counts the rows
    with no amount known (held time with no rate looked up), which only their hours size."""

    rows: int = 0
    hours: Decimal = ZERO
    amounts: dict[str, Money] = field(default_factory=dict)
    unpriced: int = 0

    def add(self, row: LeakageRow) -> None:
        self.rows += 1
        self.hours += row.hours or ZERO
        if row.amount is None:
            self.unpriced += 1
            return
        currency = row.amount.currency
        self.amounts[currency] = self.amounts.get(currency, Money.zero(currency)) + row.amount

    def money(self) -> list[Money]:
        """The amounts, one per currency, by currency code."""
        return [self.amounts[currency] for currency in sorted(self.amounts)]


@dataclass(frozen=True)
class Group:
    key: str
    label: str
    tally: Tally


@dataclass(frozen=True)
class Ledger:
    filters: LeakageFilters
    as_of: date
    rows: list[LeakageRow]
    total: Tally
    by_reason: list[Group]
    by_customer: list[Group]
    by_month: list[Group]


def get_leakage_ledger(*, filters: LeakageFilters | None = None) -> Ledger:
    """The ledger under ``filters``: its rows (oldest first) and their totals by reason, by
    customer and by work month, each per currency; the totals are sums of the rows. A fixed
    number of queries (one per reason: five), whatever the number of rows; no writes."""
    filters = filters or LeakageFilters()
    day = filters.day()
    filters = replace(filters, as_of=day)
    builders = (
        (HELD, held_rows),
        (WRITTEN_OFF, written_off_rows),
        (WRITTEN_DOWN, written_down_rows),
        (LATE, late_rows),
        (NEVER_BILLED, never_billed_rows),
    )
    rows: list[LeakageRow] = []
    for reason, build in builders:
        if filters.wants(reason):
            rows.extend(build(filters, day))
    order = list(REASONS)
    rows.sort(
        key=lambda r: (-r.age_days, order.index(r.reason), r.psa_time_entry_id, r.line_id or 0)
    )
    return _ledger(filters, day, rows)


def _ledger(filters: LeakageFilters, day: date, rows: list[LeakageRow]) -> Ledger:
    total = Tally()
    reasons: dict[str, Tally] = {}
    customers: dict[str, tuple[str, Tally]] = {}
    months: dict[date, Tally] = {}
    for row in rows:
        total.add(row)
        reasons.setdefault(row.reason, Tally()).add(row)
        key = str(row.customer_id or "")
        customers.setdefault(key, (row.customer_name or "No client known", Tally()))[1].add(row)
        months.setdefault(row.month, Tally()).add(row)
    return Ledger(
        filters=filters,
        as_of=day,
        rows=rows,
        total=total,
        by_reason=[Group(r, REASONS[r], reasons[r]) for r in REASONS if r in reasons],
        by_customer=sorted(
            (Group(key, name, tally) for key, (name, tally) in customers.items()),
            key=lambda g: (g.label.lower(), g.key),
        ),
        by_month=[Group(f"{m:%Y-%m}", f"{m:%B %Y}", months[m]) for m in sorted(months)],
    )


def leakage_filter_choices() -> dict[str, list[tuple[str, str]]]:
    """What the ledger's filter form offers: legal entities, clients with a project, the
    reasons (two queries)."""
    return {
        "entities": [(e.code, f"{e.code} {e.name}") for e in LegalEntity.objects.order_by("code")],
        "customers": [
            (str(pk), name)
            for pk, name in Customer.objects.filter(projects__isnull=False)
            .distinct()
            .order_by("name", "pk")
            .values_list("pk", "name")
        ],
        "reasons": list(REASONS.items()),
    }
