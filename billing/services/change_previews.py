"""A change previewed before it is saved (docs/finance-controls/previews.md): the change runs
for real inside a transaction that is rolled back at the end, and the time entries it touched
are compared before and after (status, rate, amount). What the preview shows is what saving
does, because it is what saving did, undone.
"""

from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, TypeVar

from django.db import transaction
from django.db.models import QuerySet

from billing.models import TimeEntry
from config.money import Money, sum_by_currency

T = TypeVar("T")
FIELDS = ("pk", "psa_time_entry_id", "project__name", "status", "rate", "amount", "currency")


@dataclass(frozen=True)
class EntryChange:
    psa_time_entry_id: str
    project: str
    status_before: str
    status_after: str
    rate_before: Decimal | None
    rate_after: Decimal | None
    amount_before: Money | None
    amount_after: Money | None

    @property
    def where(self) -> str:
        """Its status in words, before and after (one word when it stays)."""
        labels = dict(TimeEntry.Status.choices)
        before, after = labels.get(self.status_before, ""), labels.get(self.status_after, "")
        return before if before == after else f"{before} → {after}"

    @property
    def currency(self) -> str:
        amount = self.amount_after or self.amount_before
        return amount.currency if amount is not None else ""

    @property
    def change(self) -> Money | None:
        if self.amount_after is None and self.amount_before is None:
            return None
        currency = (self.amount_after or self.amount_before).currency  # type: ignore[union-attr]
        return (self.amount_after or Money.zero(currency)) - (
            self.amount_before or Money.zero(currency)
        )


@dataclass
class ChangePreview:
    entries: list[EntryChange] = field(default_factory=list)
    error: str = ""

    @property
    def totals(self) -> list[Money]:
        return list(
            sum_by_currency(e.change for e in self.entries if e.change is not None).values()
        )


class _RollBack(Exception):
    """Leaves ``undone``'s transaction, undoing everything done in it."""


def undone(work: Callable[[], T]) -> T:
    """``work()`` run for real inside a transaction that is then rolled back: its answer, read
    before the rollback, and nothing of what it wrote (the previews' one mechanism)."""
    result: list[T] = []
    try:
        with transaction.atomic():
            result.append(work())
            raise _RollBack
    except _RollBack:
        pass
    return result[0]


def _snapshot(entries: QuerySet[TimeEntry]) -> dict[int, dict[str, Any]]:
    return {row["pk"]: row for row in entries.values(*FIELDS)}


def _money(row: dict[str, Any]) -> Money | None:
    return Money(row["amount"], row["currency"]) if row["amount"] is not None else None


def preview_change(change: Callable[[], Any], *, entries: QuerySet[TimeEntry]) -> ChangePreview:
    """``change`` done and undone; the ``entries`` whose status, rate or amount it changed."""
    before = _snapshot(entries)

    def compare() -> ChangePreview:
        change()
        after = _snapshot(entries)
        preview = ChangePreview()
        for pk, old in before.items():
            new = after.get(pk, old)
            if (old["status"], old["rate"], old["amount"]) == (
                new["status"],
                new["rate"],
                new["amount"],
            ):
                continue
            preview.entries.append(
                EntryChange(
                    old["psa_time_entry_id"],
                    old["project__name"] or "",
                    old["status"],
                    new["status"],
                    old["rate"],
                    new["rate"],
                    _money(old),
                    _money(new),
                )  # fmt: skip
            )
        return preview

    return undone(compare)


def rate_card_entries(*, legal_entity_id: int, currency: str) -> QuerySet[TimeEntry]:
    """The time a change of a card of this entity and currency can re-rate: not yet invoiced."""
    return TimeEntry.objects.filter(
        project__contract__legal_entity_id=legal_entity_id,
        project__contract__currency=currency,
        status__in=(TimeEntry.Status.RECEIVED, TimeEntry.Status.RATED, TimeEntry.Status.ON_HOLD),
    ).order_by("work_date", "psa_time_entry_id")
