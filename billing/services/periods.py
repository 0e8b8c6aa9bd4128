"""Period close (docs/finance-controls/period-close.md): each legal entity's months are open,
closing or closed; a closed month is billed no further, and time approved late for it is
moved to an open month only by finance's decision, recorded (PeriodMove), never silently.

Late time: billable time-and-materials entries, rated and on no invoice, whose work month is
closed for their contract's entity and that no move has placed yet. The proposal for each
(entity, month) is the first open month after it; finance approves it (or picks another open
month after the work month), and that month's billing run bills the entries.
"""

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from django.db import transaction
from django.db.models import Count, QuerySet, Sum
from django.utils import timezone

from billing.models import AccountingPeriod, Contract, PeriodMove, TimeEntry
from billing.services.invoices import month_start
from config.errors import DomainError
from config.history_rows import record_history
from config.money import Money, sum_by_currency
from config.roles import User
from integrations.services.traces import current_or_new_trace_id, record_trace_step, use_trace
from mdm.models import LegalEntity


class PeriodRefused(DomainError):
    code = "period_refused"


def status_of(legal_entity_id: int, month: date) -> str:
    row = AccountingPeriod.objects.filter(
        legal_entity_id=legal_entity_id, period=month_start(month)
    ).first()
    return row.status if row else AccountingPeriod.Status.OPEN


def is_closed(legal_entity_id: int, month: date) -> bool:
    return status_of(legal_entity_id, month) == AccountingPeriod.Status.CLOSED


@transaction.atomic
def set_period_status(
    *, legal_entity: LegalEntity, month: date, status: str, user: User, note: str = ""
) -> AccountingPeriod:
    """Open, start closing or close one month of one entity (its history says who and why)."""
    if status not in AccountingPeriod.Status.values:
        raise PeriodRefused(f"no period status {status!r}")
    period = AccountingPeriod.objects.select_for_update().filter(
        legal_entity=legal_entity, period=month_start(month)
    ).first() or AccountingPeriod(legal_entity=legal_entity, period=month_start(month))
    period.status, period.note = status, note[:300]
    closed = status == AccountingPeriod.Status.CLOSED
    period.closed_at = timezone.now() if closed else None
    period.closed_by = user if closed else None
    period._change_reason = f"{status} by {user.get_username()}" + (f": {note}" if note else "")  # type: ignore[attr-defined]
    period.save()
    record_trace_step(
        kind="record",
        action=f"period_{status}",
        summary=f"{legal_entity.code} {month:%Y-%m} {period.get_status_display().lower()}",
        subject=period,
        trace_id=current_or_new_trace_id(),
    )
    return period


def _late_entries() -> tuple[QuerySet[TimeEntry], dict[int, set[date]]]:
    """Rated T&M entries on no invoice and not moved yet, of months closed for their entity."""
    closed = AccountingPeriod.objects.filter(status=AccountingPeriod.Status.CLOSED)
    months: dict[int, set[date]] = defaultdict(set)
    for entity_id, month in closed.values_list("legal_entity_id", "period"):
        months[entity_id].add(month)
    entries = TimeEntry.objects.filter(
        status=TimeEntry.Status.RATED,
        billing_period__isnull=True,
        project__contract__billing_model=Contract.BillingModel.TIME_AND_MATERIALS,
        project__contract__legal_entity_id__in=list(months),
    )
    return entries, months


@dataclass
class LateGroup:
    """Late time of one entity and one closed month, with the move proposed for it."""

    legal_entity: LegalEntity
    month: date
    entries: int = 0
    hours: Decimal = Decimal("0")
    amounts: list[Money] = field(default_factory=list)
    proposed: date | None = None
    choices: list[date] = field(default_factory=list)  # the proposal and the open months after


def late_time(*, legal_entity_id: int | None = None) -> list[LateGroup]:
    """The late time awaiting a move, by entity and work month (one grouped query)."""
    entries, months = _late_entries()
    if legal_entity_id:
        entries = entries.filter(project__contract__legal_entity_id=legal_entity_id)
    keys = ("project__contract__legal_entity_id", "work_date__year", "work_date__month")
    rows = (
        entries.values(*keys, "currency")
        .annotate(n=Count("id"), hours=Sum("billed_hours"), amount=Sum("amount"))
        .order_by()
    )
    groups: dict[tuple[int, date], LateGroup] = {}
    entities = LegalEntity.objects.in_bulk(list(months))
    for row in rows:
        entity_id = row["project__contract__legal_entity_id"]
        month = date(row["work_date__year"], row["work_date__month"], 1)
        if month not in months[entity_id]:
            continue  # its month is open: billed there, not late
        group = groups.setdefault(
            (entity_id, month), LateGroup(entities[entity_id], month, proposed=None)
        )
        group.entries += row["n"]
        group.hours = (group.hours + (row["hours"] or Decimal("0"))).quantize(Decimal("0.01"))
        group.amounts.append(Money(row["amount"] or Decimal("0"), row["currency"]))
    for group in groups.values():
        group.amounts = list(sum_by_currency(group.amounts).values())
    for group in groups.values():  # the closed months are known: no query per group
        closed = months[group.legal_entity.pk]
        group.proposed = _next_open(group.month, closed)
        group.choices = [group.proposed]
        for _ in range(2):
            group.choices.append(_next_open(group.choices[-1], closed))
    return sorted(groups.values(), key=lambda g: (g.legal_entity.code, g.month))


def _next_open(after: date, closed: set[date]) -> date:
    """The first month after ``after`` not in ``closed``."""
    month = _next(after)
    while month in closed:
        month = _next(month)
    return month


def _next(month: date) -> date:
    return date(month.year + (month.month == 12), month.month % 12 + 1, 1)


@transaction.atomic
def move_late_time(
    *, legal_entity: LegalEntity, month: date, to_month: date, user: User, note: str = ""
) -> PeriodMove:
    """Bill the late time of ``legal_entity``'s closed ``month`` in the open ``to_month``."""
    month, to_month = month_start(month), month_start(to_month)
    if not is_closed(legal_entity.pk, month):
        raise PeriodRefused(
            f"{legal_entity.code}'s {month:%Y-%m} is not closed: its time is not late"
        )
    if to_month <= month or is_closed(legal_entity.pk, to_month):
        raise PeriodRefused(f"{to_month:%Y-%m} is not an open month after {month:%Y-%m}")
    entries, _months = _late_entries()
    moving = entries.filter(
        project__contract__legal_entity=legal_entity,
        work_date__year=month.year,
        work_date__month=month.month,
    ).select_for_update()
    ids = list(moving.values_list("pk", flat=True))
    if not ids:
        raise PeriodRefused(f"{legal_entity.code}'s {month:%Y-%m} has no late time to move")
    [group] = [g for g in late_time(legal_entity_id=legal_entity.pk) if g.month == month]
    with use_trace(current_or_new_trace_id()) as trace_id:
        move = PeriodMove.objects.create(
            legal_entity=legal_entity, from_period=month, to_period=to_month,
            entries=len(ids), hours=group.hours, approved_by=user, note=note[:300],
            amounts={c: str(m.rounded().amount) for c, m in sum_by_currency(group.amounts).items()},
            trace_id=trace_id,
        )  # fmt: skip
        changed = TimeEntry.objects.filter(pk__in=ids)
        changed.update(billing_period=to_month, period_move=move, updated_at=timezone.now())
        reason = (
            f"late time of closed {month:%Y-%m} moved to {to_month:%Y-%m} by {user.get_username()}"
        )
        record_history(changed, reason=reason, user_id=user.pk)
        record_trace_step(kind="record", action="late_time_moved", summary=reason, subject=move)
    return move
