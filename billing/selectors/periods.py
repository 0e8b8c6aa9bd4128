"""What the period-close page shows: each entity's recent months and their status, the late
time awaiting a move (billing/services/periods.py), the moves made."""

from dataclasses import dataclass
from datetime import date

from django.db.models import QuerySet

from billing.models import AccountingPeriod, PeriodMove
from mdm.models import LegalEntity

MONTHS_SHOWN = 12


@dataclass(frozen=True)
class MonthRow:
    legal_entity: LegalEntity
    month: date
    status: str
    label: str
    period: AccountingPeriod | None


def months_back(today: date, count: int = MONTHS_SHOWN) -> list[date]:
    """This month and the ``count - 1`` before it, newest first."""
    month, months = today.replace(day=1), []
    for _ in range(count):
        months.append(month)
        month = date(month.year - (month.month == 1), (month.month - 2) % 12 + 1, 1)
    return months


def period_rows(*, today: date, legal_entity_id: int | None = None) -> list[MonthRow]:
    """Each entity × the months shown, with the stored status (open when none): one query."""
    entities = list(LegalEntity.objects.order_by("code"))
    if legal_entity_id:
        entities = [e for e in entities if e.pk == legal_entity_id]
    months = months_back(today)
    stored = {
        (p.legal_entity_id, p.period): p
        for p in AccountingPeriod.objects.filter(period__in=months).select_related("closed_by")
    }
    labels = dict(AccountingPeriod.Status.choices)
    rows = []
    for entity in entities:
        for month in months:
            period = stored.get((entity.pk, month))
            status = period.status if period else AccountingPeriod.Status.OPEN
            rows.append(MonthRow(entity, month, status, labels[status], period))
    return rows


def recent_moves(limit: int = 20) -> QuerySet[PeriodMove]:
    return PeriodMove.objects.select_related("legal_entity", "approved_by")[:limit]
