"""What the demo firm's ERP does with a posted invoice: its number and its later statuses (sent
as its deliveries by the loader)."""

import zlib
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal

from billing.demo.delivery import Delivery, envelope, webhook_id
from config.money import amount_text


@dataclass(frozen=True)
class ErpStatus:
    """One ``erp.invoice.status_changed`` the ERP sends."""

    status: str
    changed_at: datetime
    amount_due: Decimal


def months_between(period: date, today: date) -> int:
    """1 for last month's invoice, 2 for the month before, …"""
    return (today.year - period.year) * 12 + today.month - period.month


def erp_number(*, entity_code: str, invoice_date: date, sequence: int) -> str:
    return f"{entity_code}-{invoice_date:%Y%m}-{sequence:04d}"


def erp_history(
    *, key: str, period: date, invoice_date: date, gross: Decimal, today: date, now: datetime
) -> list[ErpStatus]:
    """The statuses the ERP sends for a posted invoice, oldest first (deterministic per
    ``key``): last month's mostly sent, older ones mostly paid, a few partly paid or overdue."""
    roll = zlib.crc32(key.encode()) % 100
    age = months_between(period, today)
    latest = now - timedelta(minutes=5)

    def when(days: int) -> datetime:
        moment = datetime.combine(invoice_date + timedelta(days=days), time(10), tzinfo=UTC)
        return min(moment, latest)

    if age <= 1:
        return [ErpStatus("sent", when(1), gross)] if roll < 75 else []
    sent = ErpStatus("sent", when(2), gross)
    paid_share, partial_share = (50, 25) if age == 2 else (85, 10)
    if roll < paid_share:
        return [sent, ErpStatus("paid", when(30 + roll % 15), Decimal("0.00"))]
    if roll < paid_share + partial_share:
        due = (gross * Decimal("0.40")).quantize(Decimal("0.01"))
        return [sent, ErpStatus("partially_paid", when(35 + roll % 10), due)]
    return [sent]


def erp_status_chains(invoices, *, today: date, now: datetime) -> list[list[Delivery]]:
    """The ERP's ``erp.invoice.status_changed`` deliveries of the posted ``invoices``, one chain
    (in order) per invoice."""
    chains = []
    for sequence, invoice in enumerate(invoices.order_by("period", "pk"), start=1):
        key = ":".join(
            (f"{invoice.period:%Y-%m}", invoice.legal_entity.code, invoice.customer.name)
        )
        history = erp_history(
            key=key,
            period=invoice.period,
            invoice_date=invoice.invoice_date,
            gross=invoice.gross_total,
            today=today,
            now=now,
        )
        number = erp_number(
            entity_code=invoice.legal_entity.code,
            invoice_date=invoice.invoice_date,
            sequence=sequence,
        )
        chain = []
        for status in history:
            data = {
                "invoice_id": invoice.erp_invoice_id,
                "number": number,
                "status": status.status,
                "total": amount_text(invoice.gross_total, invoice.currency),
                "amount_due": str(status.amount_due),
                "currency": invoice.currency,
                "changed_at": status.changed_at.isoformat(),
            }
            chain.append(
                (
                    "erp",
                    envelope("erp.invoice.status_changed", data["changed_at"], data),
                    webhook_id("erp_invoice", f"{invoice.erp_invoice_id}_{status.status}"),
                )
            )
        if chain:
            chains.append(chain)
    return chains
