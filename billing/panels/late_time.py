"""The finance dashboard's controls: late time (docs/finance-controls/period-close.md), time of
closed months awaiting a move to an open month and what was moved this month; and the requests
waiting for a second approval (docs/finance-controls/four-eyes.md)."""

from decimal import Decimal

from django.db.models import Sum
from django.utils import timezone

from billing.models import ApprovalRequest, PeriodMove
from billing.services.approvals import pending_total
from billing.services.periods import late_time
from config.money import Money, money_json, sum_by_currency


def get_late_time(*, user=None, **params) -> dict:
    groups = late_time()
    awaiting = sum_by_currency(amount for group in groups for amount in group.amounts)
    this_month = timezone.localdate().replace(day=1)
    moves = PeriodMove.objects.filter(approved_at__date__gte=this_month)
    moved: dict[str, Money] = {}
    for amounts in moves.values_list("amounts", flat=True):
        for currency, amount in (amounts or {}).items():
            moved[currency] = moved.get(currency, Money.zero(currency)) + Money(amount, currency)
    totals = moves.aggregate(entries=Sum("entries"), hours=Sum("hours"))
    return {
        "awaiting_entries": sum(group.entries for group in groups),
        "awaiting_hours": f"{sum((group.hours for group in groups), Decimal('0')):.2f}",
        "awaiting_amounts": [money_json(m.amount, c) for c, m in sorted(awaiting.items())],
        "awaiting_months": [
            {"legal_entity": g.legal_entity.code, "month": f"{g.month:%Y-%m}", "entries": g.entries}
            for g in groups
        ],
        "moved_entries": totals["entries"] or 0,
        "moved_hours": f"{totals['hours'] or Decimal('0'):.2f}",
        "moved_amounts": [money_json(m.amount, c) for c, m in sorted(moved.items())],
    }


def get_pending_approvals(*, user=None, **params) -> dict:
    """Money-moving actions waiting for a second person (billing/services/approvals.py)."""
    pending = ApprovalRequest.objects.filter(status=ApprovalRequest.Status.PENDING)
    mine = pending.filter(requested_by=user).count() if user is not None else 0
    return {
        "pending": pending.count(),
        "yours": mine,
        "amounts": [money_json(amount, c) for c, amount in sorted(pending_total().items())],
    }
