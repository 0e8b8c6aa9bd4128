"""Revenue leakage on the finance dashboard (docs/finance-controls/leakage.md): this month's and
last month's leakage by work month, and all of it, linking to the ledger filtered the same way.
Amounts stay per currency, as in the ledger: no FX look-up, so the figure's queries are the
ledger's whatever its currencies."""

from datetime import date, timedelta

from django.urls import reverse

from billing.panels.common import money_list, today
from billing.panels.scope import Scope, link
from billing.selectors.leakage import LeakageFilters, Tally, get_leakage_ledger


def _previous_month(first: date) -> date:
    return (first - timedelta(days=1)).replace(day=1)


def get_revenue_leakage(*, user=None, **params) -> dict:
    """The ledger's totals (its own five queries): by the work month of this month and last
    month, and in all, per currency. Filters: the dashboard's legal entity and client."""
    on = today()
    scope = Scope.parse(params)
    filters = LeakageFilters(customer=scope.customer, legal_entity=scope.legal_entity, as_of=on)
    ledger = get_leakage_ledger(filters=filters)
    months = {group.key: group.tally for group in ledger.by_month}
    this_month = on.replace(day=1)
    last_month = _previous_month(this_month)
    keep = {"legal_entity": scope.legal_entity, "customer": scope.customer}
    ledger_url = reverse("billing:leakage")

    def figure(tally: Tally, label: str, **query) -> dict:
        amounts = {currency: money.amount for currency, money in tally.amounts.items()}
        return {
            "label": label,
            "rows": tally.rows,
            "hours": str(tally.hours),
            "unpriced_rows": tally.unpriced,
            "amounts": money_list(amounts),
            "url": link(ledger_url, keep, query),
        }

    def month_figure(month: date) -> dict:
        key = f"{month:%Y-%m}"
        return figure(months.get(key, Tally()), f"{month:%B %Y}", **{"from": key, "to": key})

    return {
        "as_of": on.isoformat(),
        "this_month": month_figure(this_month),
        "last_month": month_figure(last_month),
        "total": figure(ledger.total, "all open leakage"),
        "by_reason": [
            {"reason": group.key, **figure(group.tally, group.label, reason=group.key)}
            for group in ledger.by_reason
        ],
    }
