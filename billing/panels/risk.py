"""Revenue at risk in open exceptions (docs/contract.md §6): what open items hold, by queue and type.

Registered by billing, not exceptions_queue: totalling it needs billing's FX rates, and the
items that hold money (held time, caps, invalid contracts) are billing's."""

from decimal import Decimal

from django.db.models import Count, Q

from billing.panels.common import (
    ZERO,
    FxTable,
    add_amounts,
    from_hundredths,
    money_list,
    pairs_to_reporting,
    reporting,
    reporting_currency,
    sum_hundredths,
)
from exceptions_queue.models import ExceptionItem, Queue


def get_revenue_at_risk(*, user=None) -> dict:
    """Sum of ``amount_at_risk`` of open (open or assigned) items by queue and by type, per
    currency and in the reporting currency; the hours of items with no amount (no rate known)
    are counted apart, never priced. One query plus one for FX rates."""
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
            amount=sum_hundredths("amount_at_risk"),
            unpriced_items=Count("id", filter=Q(amount_at_risk__isnull=True)),
            unpriced_hours=sum_hundredths("hours", filter=Q(amount_at_risk__isnull=True)),
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
            group["hours"] += from_hundredths(row["unpriced_hours"])
            if row["amount"]:
                add_amounts(group["amounts"], row["currency"], from_hundredths(row["amount"]))
    return groups
