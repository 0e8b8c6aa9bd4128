"""A billing run in preview (docs/finance-controls/previews.md): the real run, every step of it,
inside one transaction that is rolled back at the end. What it would write is read just before
the rollback: the month's drafts in scope as they would stand, each with its lines and totals,
and what changed against the drafts as they are. Nothing is kept (no run, no draft, no history
row, no trace step, no message: they all roll back with it), so a preview's figures are the
real run's figures when nothing changes in between (tests/billing/test_previews.py).
"""

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from billing.models import Invoice
from billing.services.change_previews import undone
from billing.services.invoice_run import create_billing_run, execute_billing_run
from config.errors import DomainError
from config.money import Money
from config.roles import User


@dataclass(frozen=True)
class DraftLine:
    kind: str
    description: str
    hours: Decimal | None
    rate: Decimal | None
    amount: Money


@dataclass
class DraftPreview:
    invoice_id: int | None  # None: a draft the run would open
    customer: str
    legal_entity: str
    currency: str
    lines: list[DraftLine] = field(default_factory=list)
    net: Money | None = None
    tax: Money | None = None
    gross: Money | None = None
    gross_before: Money | None = None  # the draft's gross today (None: no draft yet)

    @property
    def change(self) -> Money | None:
        if self.gross is None:
            return None
        return self.gross - (self.gross_before or Money.zero(self.currency))


@dataclass
class RunPreview:
    period: date
    drafts: list[DraftPreview]
    counts: dict
    removed: list[int] = field(default_factory=list)  # drafts the run would empty and remove


class PreviewFailed(DomainError):
    code = "billing_preview_failed"


def _drafts(period: date, entity_code: str | None, customer_id: int | None) -> list[Invoice]:
    drafts = Invoice.objects.filter(period=period, status=Invoice.Status.DRAFT)
    if entity_code:
        drafts = drafts.filter(legal_entity__code=entity_code)
    if customer_id:
        drafts = drafts.filter(customer_id=customer_id)
    return list(
        drafts.select_related("customer", "legal_entity").prefetch_related("lines").order_by("pk")
    )


def _shown(invoice: Invoice, before: dict[int, Money]) -> DraftPreview:
    currency = invoice.currency
    return DraftPreview(
        invoice_id=invoice.pk if invoice.pk in before else None,
        customer=invoice.customer.name,
        legal_entity=invoice.legal_entity.code,
        currency=currency,
        lines=[
            DraftLine(
                line.kind, line.description, line.hours, line.rate, Money(line.amount, currency)
            )
            for line in sorted(invoice.lines.all(), key=lambda line: line.pk)
        ],
        net=Money(invoice.net_total, currency),
        tax=Money(invoice.tax_total, currency),
        gross=Money(invoice.gross_total, currency),
        gross_before=before.get(invoice.pk),
    )


def preview_billing_run(
    *, period: date, legal_entity_code: str | None, customer_id: int | None, user: User | None
) -> RunPreview:
    """The drafts the run of ``period`` (in this scope) would leave, written nowhere."""
    before = {
        d.pk: Money(d.gross_total, d.currency)
        for d in _drafts(period, legal_entity_code, customer_id)
    }

    def run_it() -> RunPreview:
        run = create_billing_run(
            period=period, legal_entity_code=legal_entity_code, customer_id=customer_id,
            requested_by=user,
        )  # fmt: skip
        try:
            run = execute_billing_run(run_id=run.pk)
        except Exception as exc:  # noqa: BLE001 the run's own failure, shown to the user
            raise PreviewFailed(f"the billing run would fail: {type(exc).__name__}: {exc}") from exc
        after = _drafts(run.period, legal_entity_code, customer_id)
        kept = {d.pk for d in after}
        return RunPreview(
            run.period,
            [_shown(d, before) for d in after],
            dict(run.counts),
            removed=[pk for pk in before if pk not in kept],
        )

    return undone(run_it)
