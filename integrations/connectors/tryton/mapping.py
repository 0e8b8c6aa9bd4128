"""Canonical payloads ↔ Tryton values (pure functions: no calls, no database).

Decisions (docs/connectors/tryton.md):
- a line with hours and a rate whose product is exactly its amount travels as quantity = hours
  and unit price = rate (Tryton shows "2.00 h × 150.0000"); any other line (a milestone, a
  retainer, a rounded group) as quantity 1 (−1 for a credit) at its amount, so Tryton's line
  amount is always exactly ours;
- taxes come from the system's jurisdiction → tax names; a jurisdiction not listed has none;
- Tryton invoice states become the contract's: posted (amount to pay = total) → ``posted``,
  posted and partly paid → ``partially_paid``, paid → ``paid``, cancelled → ``void``.
"""

from datetime import UTC, date, datetime
from decimal import Decimal

from integrations.connectors.base import PermanentError
from integrations.connectors.readback import ReadInvoice
from integrations.connectors.tryton.setup import Product

INVOICE_PREFIX, PROJECT_PREFIX, PHASE_PREFIX = "TL-INV-", "TL-OPP-", "TL-PHASE-"


def _instance(options: dict) -> str:
    """``settings["tryton"]["instance"]``: a prefix for every reference this Throughline writes,
    so two installations (production and staging) can share one Tryton without meeting."""
    return str(options.get("instance", ""))


def party_code(options: dict, throughline_id: str) -> str:
    return _instance(options) + throughline_id


def invoice_reference(options: dict, invoice_id: str) -> str:
    return f"{_instance(options)}{INVOICE_PREFIX}{invoice_id}"


def project_marker(options: dict, opportunity_id: str) -> str:
    return f"{_instance(options)}{PROJECT_PREFIX}{opportunity_id}"


def term_name(options: dict, our_term: str) -> str:
    return (options.get("payment_terms") or {}).get(our_term, our_term)


def tax_names(options: dict, jurisdiction: str) -> list[str]:
    names = (options.get("taxes") or {}).get(jurisdiction)
    if names is None:
        return []
    return [names] if isinstance(names, str) else list(names)


def product_code(options: dict, line: dict) -> str:
    by_role = options.get("role_products") or {}
    return by_role.get(line.get("role") or "", options.get("service_product", "SERVICE"))


def invoice_line(line: dict, product: Product, taxes: list[int], digits: int) -> dict:
    amount = Decimal(line["amount"])
    quantity, unit_price = _quantity_and_price(line, amount)
    values = {
        "type": "line",
        "product": product.id,
        "unit": product.unit,
        "account": product.account,
        "quantity": quantity,
        "unit_price": unit_price,
        "description": _line_description(line),
    }
    if taxes:
        values["taxes"] = [["add", taxes]]
    if (quantity * unit_price).quantize(Decimal(1).scaleb(-digits)) != amount:
        raise PermanentError(f"line {line['line_id']}: {amount} has more places than the currency")
    return values


def _quantity_and_price(line: dict, amount: Decimal) -> tuple[Decimal, Decimal]:
    hours, rate = line.get("hours"), line.get("rate")
    if hours and rate and Decimal(hours) * Decimal(rate) == amount:
        return Decimal(hours), Decimal(rate)
    if amount < 0:
        return Decimal(-1), -amount
    return Decimal(1), amount


def _line_description(line: dict) -> str:
    text = line.get("description") or line.get("kind", "")
    if line.get("kind") == "credit":
        return f"Credit: {text}"
    return text


def invoice_description(payload: dict) -> str:
    credit_only = payload["lines"] and all(line["kind"] == "credit" for line in payload["lines"])
    kind = "Credit note" if credit_only else "Invoice"
    return f"{kind} {payload['period']} (Throughline {payload['invoice_id']})"


def parse_date(text: str) -> date:
    return date.fromisoformat(text)


def parse_datetime(text: str) -> datetime:
    """A cursor (ISO, UTC) as the naive UTC datetime Tryton compares ``write_date`` with."""
    moment = datetime.fromisoformat(text)
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC).replace(tzinfo=None)
    return moment


def aware(moment: datetime) -> datetime:
    """Tryton's naive UTC timestamps as aware ones."""
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def invoice_status(row: dict) -> dict | None:
    """An ``account.invoice`` row as ``erp.invoice.status_changed`` data; None while Tryton
    still holds it as a draft (nothing the contract reports)."""
    status = _status(row)
    if status is None:
        return None
    currency = row.get("currency.") or {}
    changed = row.get("write_date") or row.get("create_date") or datetime.now(tz=UTC)
    return {
        "invoice_id": str(row["id"]),
        "status": status,
        "number": row.get("number") or None,
        "total": str(row["total_amount"]),
        "amount_due": str(row["amount_to_pay"]),
        "currency": currency.get("code") or row.get("currency_code", ""),
        "changed_at": aware(changed).isoformat(),
    }


def _status(row: dict) -> str | None:
    state = row["state"]
    if state == "paid":
        return "paid"
    if state == "cancelled":
        return "void"
    if state != "posted":
        return None
    total, to_pay = Decimal(row["total_amount"]), Decimal(row["amount_to_pay"])
    if to_pay != total and to_pay != 0:
        return "partially_paid"
    return "posted"


def read_invoice(row: dict) -> ReadInvoice:
    """An ``account.invoice`` row as the read-back port answers it: the contract's status, or
    Tryton's own state (``draft``, ``validated``) while it has none."""
    currency = row.get("currency.") or {}
    return ReadInvoice(
        erp_invoice_id=str(row["id"]),
        number=row.get("number") or "",
        state=_status(row) or str(row["state"]),
        # Decimals already: Tryton's typed JSON (client.py decode_value), never a float.
        net_total=Decimal(row["untaxed_amount"]),
        tax_total=Decimal(row["tax_amount"]),
        gross_total=Decimal(row["total_amount"]),
        currency=currency.get("code") or "",
    )
