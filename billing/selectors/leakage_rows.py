"""The leakage ledger's vocabulary (docs/finance-controls/leakage.md): its reasons, filters and
rows, and the reads every reason's rows share. The rows are built in
``billing.selectors.leakage_sources``; the ledger and its totals in ``billing.selectors.leakage``."""

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from django.db.models import Q, QuerySet
from django.utils import timezone

from billing.models import TimeEntry
from billing.periods import period_from_text
from config.money import Money

HELD, WRITTEN_OFF, WRITTEN_DOWN = "held", "written_off", "written_down"
LATE, NEVER_BILLED = "late", "never_billed"
REASONS = {
    HELD: "Held",
    WRITTEN_OFF: "Written off",
    WRITTEN_DOWN: "Written down",
    LATE: "Billed late",
    NEVER_BILLED: "Never billed",
}
# Days after a month's end before its unbilled time counts as never billed even without a
# finished run of that month: the monthly run is on the 1st at 02:00 (beat), and ten days leave
# finance time to fix holds and run it again before the time is called lost.
NEVER_BILLED_GRACE_DAYS = 10
ADJUST_PREFIX = (
    "adjust:"  # an adjustment line's group key (billing/services/invoice_adjustments.py)
)
ZERO = Decimal("0")


def month_of(day: date) -> date:
    return day.replace(day=1)


def months_between(earlier: date, later: date) -> int:
    return (later.year - earlier.year) * 12 + later.month - earlier.month


@dataclass(frozen=True)
class LeakageFilters:
    """The ledger's filters: a range of months (inclusive, first days), a customer (golden
    record id), a legal entity (code) and a reason. ``as_of`` is the day ages count to."""

    start: date | None = None
    end: date | None = None
    customer: int | None = None
    legal_entity: str = ""
    reason: str = ""
    as_of: date | None = None

    @classmethod
    def parse(cls, query: Mapping[str, Any], *, as_of: date | None = None) -> "LeakageFilters":
        """From a query string (``from``/``to`` as ``YYYY-MM``, ``customer``, ``legal_entity``,
        ``reason``). Raises ValueError naming the first value that does not parse."""
        start = _month_param(query, "from")
        end = _month_param(query, "to")
        if start and end and start > end:
            raise ValueError("from: the first month comes after the last")
        customer = str(query.get("customer") or "").strip()
        if customer and not (customer.isdigit() and 0 < int(customer) < 2**63):
            raise ValueError(f"customer: {customer!r} is not a customer id")
        reason = str(query.get("reason") or "").strip()
        if reason and reason not in REASONS:
            raise ValueError(f"reason: {reason!r} is not one of {', '.join(REASONS)}")
        return cls(
            start=start,
            end=end,
            customer=int(customer) if customer else None,
            legal_entity=str(query.get("legal_entity") or "").strip()[:20],
            reason=reason,
            as_of=as_of,
        )

    def day(self) -> date:
        return self.as_of or timezone.localdate()

    def wants(self, reason: str) -> bool:
        return not self.reason or self.reason == reason

    def as_query(self) -> dict[str, str]:
        """The filters as the page's query parameters (what a link keeps)."""
        values = {
            "from": f"{self.start:%Y-%m}" if self.start else "",
            "to": f"{self.end:%Y-%m}" if self.end else "",
            "customer": str(self.customer or ""),
            "legal_entity": self.legal_entity,
            "reason": self.reason,
        }
        return {name: value for name, value in values.items() if value}

    def months(self, day_field: str) -> Q:
        q = Q()
        if self.start:
            q &= Q(**{f"{day_field}__gte": self.start})
        if self.end:
            q &= Q(**{f"{day_field}__lt": next_month(self.end)})
        return q


def _month_param(query: Mapping[str, Any], name: str) -> date | None:
    text = str(query.get(name) or "").strip()
    if not text:
        return None
    try:
        return period_from_text(text)
    except ValueError as exc:
        raise ValueError(f"{name}: {text!r} is not a month (YYYY-MM)") from exc


def next_month(first: date) -> date:
    return (first + timedelta(days=32)).replace(day=1)


@dataclass(frozen=True)
class LeakageRow:
    """One thing not billed on time: an entry (or, for a write-down, a line) and why."""

    reason: str
    detail: str
    month: date
    work_date: date
    age_days: int
    hours: Decimal | None
    amount: Money | None
    owner: str
    customer_id: int | None = None
    customer_name: str = ""
    legal_entity: str = ""
    project_id: int | None = None
    project_name: str = ""
    psa_project_id: str = ""
    entry_id: int | None = None
    psa_time_entry_id: str = ""
    invoice_id: int | None = None
    invoice_title: str = ""
    line_id: int | None = None
    item_id: int | None = None
    item_queue: str = ""
    happened_at: datetime | None = None
    months_late: int | None = None

    @property
    def reason_label(self) -> str:
        return REASONS[self.reason]

    @property
    def currency(self) -> str:
        return self.amount.currency if self.amount is not None else ""

    @property
    def amount_value(self) -> Decimal | None:
        return self.amount.amount if self.amount is not None else None


def age_in_days(day: date, work_date: date) -> int:
    return max((day - work_date).days, 0)


def money_or_none(amount: Decimal | None, currency: str) -> Money | None:
    if amount is None or not currency:
        return None
    return Money(Decimal(str(amount)), currency).rounded()


def entries_in_scope(filters: LeakageFilters) -> QuerySet[TimeEntry]:
    scope = filters.months("work_date")
    if filters.customer:
        scope &= Q(project__customer_id=filters.customer)
    if filters.legal_entity:
        scope &= Q(project__contract__legal_entity__code=filters.legal_entity)
    return (
        TimeEntry.objects.filter(scope)
        .select_related("project__customer", "project__contract__legal_entity")
        .order_by("work_date", "psa_time_entry_id")
    )


def entry_fields(entry: TimeEntry, day: date) -> dict[str, Any]:
    project = entry.project
    return {
        "month": month_of(entry.work_date),
        "work_date": entry.work_date,
        "age_days": age_in_days(day, entry.work_date),
        "customer_id": project.customer_id if project else None,
        "customer_name": project.customer.name if project else "",
        "legal_entity": project.contract.legal_entity.code if project else "",
        "project_id": project.pk if project else None,
        "project_name": project.name if project else "",
        "psa_project_id": entry.psa_project_id,
        "entry_id": entry.pk,
        "psa_time_entry_id": entry.psa_time_entry_id,
    }


def invoices_in_scope(filters: LeakageFilters, prefix: str) -> Q:
    scope = Q()
    if filters.customer:
        scope &= Q(**{f"{prefix}customer_id": filters.customer})
    if filters.legal_entity:
        scope &= Q(**{f"{prefix}legal_entity__code": filters.legal_entity})
    return scope
