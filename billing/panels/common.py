"""What every billing figure shares: exact sums on both databases, money as JSON, FX for the
reporting currency, percentiles. Dashboards only: nothing here is used to bill.

Money is ``config.money``'s: sums are ``exact_sum`` (integer thousandths in SQL), JSON is
``money_json``/``money_list``, and amounts are kept per currency, only ever totalled through
``FxTable`` into the reporting currency."""

import math
from collections import defaultdict
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_UP, Decimal

from django.conf import settings
from django.db.models import Q
from django.utils import timezone

from billing.models import Contract, FxRate, TimeEntry
from config.money import money_json, money_list, round_money
from config.money_db import exact_sum, from_exact_sum

__all__ = ["exact_sum", "from_exact_sum", "money_list"]

ZERO = Decimal("0")
HOURS = 2  # decimals of an hours column, for exact_sum(field, HOURS) / from_exact_sum(value, HOURS)
# The entries whose amounts are billed time (utilization, margin, their drill-down links).
BILLED = (TimeEntry.Status.RATED, TimeEntry.Status.INVOICED)


def billed_and_cost_sums() -> dict:
    """The margin's two sums of time entries, for ``.annotate(**billed_and_cost_sums())``:
    ``billed`` (amounts of billed time on time-and-materials contracts; fees are billed by
    their lines) and ``cost`` (every entry's cost), both as exact sums."""
    return {
        "billed": exact_sum(
            "amount",
            filter=Q(
                status__in=BILLED,
                project__contract__billing_model=Contract.BillingModel.TIME_AND_MATERIALS,
            ),
        ),
        "cost": exact_sum("cost_amount"),
    }


def today() -> date:
    return timezone.localdate()


def money(amount: Decimal, currency: str) -> dict:
    return money_json(amount, currency)


def add_amounts(target: dict[str, Decimal], currency: str, amount: Decimal) -> None:
    target[currency] = target.get(currency, ZERO) + amount


def reporting_currency() -> str:
    return settings.REPORTING_CURRENCY


@dataclass(frozen=True)
class FxTable:
    """The latest rate on or before a day for each pair asked for (one query). A pair with no
    row uses the inverse of the opposite pair's latest rate; with neither it has no rate."""

    rates: dict[tuple[str, str], Decimal]
    on: date

    @classmethod
    def load(cls, pairs: set[tuple[str, str]], *, on: date | None = None) -> "FxTable":
        on = on or today()
        wanted = {(a, b) for a, b in pairs if a and b and a != b}
        if not wanted:
            return cls({}, on)
        match = Q()
        for a, b in wanted:
            match |= Q(from_currency=a, to_currency=b) | Q(from_currency=b, to_currency=a)
        latest: dict[tuple[str, str], Decimal] = {}
        rows = (
            FxRate.objects.filter(match, date__lte=on)
            .order_by("-date", "pk")
            .values_list("from_currency", "to_currency", "rate")
        )
        for source, target, rate in rows:
            latest.setdefault((source, target), rate)
        rates = {}
        for a, b in wanted:
            if (a, b) in latest:
                rates[(a, b)] = latest[(a, b)]
            elif latest.get((b, a)):
                rates[(a, b)] = Decimal(1) / latest[(b, a)]
        return cls(rates, on)

    def rate(self, source: str, target: str) -> Decimal | None:
        return Decimal(1) if source == target else self.rates.get((source, target))

    def total(self, amounts: dict[str, Decimal], target: str) -> tuple[Decimal, dict]:
        """Sum of ``amounts`` in ``target`` (rounded once, half-up), and what had no rate."""
        converted, missing = ZERO, {}
        for currency, amount in amounts.items():
            if not amount:
                continue
            rate = self.rate(currency, target)
            if rate is None:
                missing[currency] = amount
            else:
                converted += amount * rate
        return round_money(converted, target), missing


def reporting(amounts: dict[str, Decimal], fx: FxTable) -> dict:
    """``{"amount", "currency", "unconverted": [...]}``: the part with an FX rate, totalled in the
    reporting currency; amounts without a rate are listed, never guessed."""
    target = reporting_currency()
    total, missing = fx.total(amounts, target)
    return {**money(total, target), "unconverted": money_list(missing)}


def pairs_to_reporting(currencies) -> set[tuple[str, str]]:
    target = reporting_currency()
    return {(c, target) for c in currencies if c}


def median(values: list[Decimal]) -> Decimal | None:
    """The middle value (the mean of the two middle values for an even count)."""
    if not values:
        return None
    ordered, n = sorted(values), len(values)
    middle = n // 2
    return ordered[middle] if n % 2 else (ordered[middle - 1] + ordered[middle]) / 2


def percentile(values: list[Decimal], share: int) -> Decimal | None:
    """Nearest rank: the smallest value with at least ``share`` % of the values at or below it."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(math.ceil(share * len(ordered) / 100), 1) - 1]


def one_decimal(value: Decimal | None) -> str | None:
    return None if value is None else str(value.quantize(Decimal("0.1"), rounding=ROUND_HALF_UP))


def percent(part: Decimal, whole: Decimal) -> str | None:
    return None if not whole else one_decimal(part * 100 / whole)


def nested_amounts():
    return defaultdict(lambda: defaultdict(lambda: ZERO))
