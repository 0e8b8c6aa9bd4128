"""Revenue at risk in open exceptions (docs/contract.md §6): what open items hold, by queue and type.

Registered by billing, not exceptions_queue: totalling it needs billing's FX rates, and the
items that hold money (held time, caps, invalid contracts) are billing's."""

from decimal import Decimal

from django.db.models import Count, Q

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
)
from exceptions_queue.models import ExceptionItem, Queue

# No amount at all (hours only): not an item whose amounts are in several currencies.
UNPRICED = Q(amount_at_risk__isnull=True, amounts_at_risk=[])


def get_revenue_at_risk(*, user=None) -> dict:
    """Sum of ``amount_at_risk`` of open (open or assigned) items by queue and by type, per
    currency and in the reporting currency; the hours of items with no amount (no rate known)
    are counted apart, never priced. Two queries plus one for FX rates."""
    groups = _risk_groups()
    currencies = {c for g in groups.values() for c in g["amounts"]}
    fx = FxTable.load(pairs_to_reporting(currencies))

    def as_json(group: dict) -> dict:
        return {
            "items": group["items"],
            "amounts": money_list(group["amounts"]),
            "reporting": reporting(group["amounts"], fx),
            "unpriced_items": group["unpriced_items"],
            "unpriced_hours": str(group["hours"]),
        }

    by_queue = [
        {"queue": q.value, "label": q.label, **as_json(groups[("queue", q.value)])}
        for q in Queue
        if ("queue", q.value) in groups
    ]
    by_type = sorted(
        (
            {"type": key[1], "queue": g["queue"], **as_json(g)}
            for key, g in groups.items()
            if key[0] == "type"
        ),
        key=lambda r: (
            -Decimal(r["reporting"]["amount"]),
            -Decimal(r["unpriced_hours"]),
            r["type"],
        ),
    )
    totals: dict[str, Decimal] = {}
    for group in (g for k, g in groups.items() if k[0] == "queue"):
        for currency, amount in group["amounts"].items():
            add_amounts(totals, currency, amount)
    return {
        "reporting_currency": reporting_currency(),
        "items": sum(r["items"] for r in by_queue),
        "amounts": money_list(totals),
        "reporting": reporting(totals, fx),
        "unpriced_items": sum(r["unpriced_items"] for r in by_queue),
        "unpriced_hours": str(sum((Decimal(r["unpriced_hours"]) for r in by_queue), ZERO)),
        "by_queue": by_queue,
        "by_type": by_type,
    }


def _risk_groups() -> dict[tuple[str, str], dict]:
    """Open items summed per ("queue", queue) and per ("type", type code), amounts per currency."""
    rows = (
        ExceptionItem.objects.filter(status__in=ExceptionItem.OPEN_STATUSES)
        .values("queue", "type_code", "currency")
        .annotate(
            items=Count("id"),
            amount=exact_sum("amount_at_risk"),
            unpriced_items=Count("id", filter=UNPRICED),
            unpriced_hours=exact_sum("hours", HOURS, filter=UNPRICED),
        )
        .order_by()
    )
    groups: dict[tuple[str, str], dict] = {}
    for row in rows:
        for key in (("queue", row["queue"]), ("type", row["type_code"])):
            group = groups.setdefault(
                key,
                {
                    "queue": row["queue"],
                    "items": 0,
                    "amounts": {},
                    "unpriced_items": 0,
                    "hours": ZERO,
                },
            )
            group["items"] += row["items"]
            group["unpriced_items"] += row["unpriced_items"]
            group["hours"] += from_exact_sum(row["unpriced_hours"], HOURS)
            if row["amount"]:
                add_amounts(group["amounts"], row["currency"], from_exact_sum(row["amount"]))
    _add_several_currencies(groups)
    return groups


def _add_several_currencies(groups: dict[tuple[str, str], dict]) -> None:
    """Items holding amounts in several currencies have no single ``amount_at_risk``: their
    per-currency amounts (``amounts_at_risk``) are added currency by currency."""
    rows = (
        ExceptionItem.objects.filter(
            status__in=ExceptionItem.OPEN_STATUSES, amount_at_risk__isnull=True
        )
        .exclude(amounts_at_risk=[])
        .values_list("queue", "type_code", "amounts_at_risk")
    )
    for queue, type_code, amounts in rows:
        for key in (("queue", queue), ("type", type_code)):
            for money in amounts:
                add_amounts(groups[key]["amounts"], money["currency"], Decimal(money["amount"]))
