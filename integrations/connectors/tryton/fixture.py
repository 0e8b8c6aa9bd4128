"""The company a live Tryton needs before it can invoice, and helpers for tests against it.

``set_up_company`` runs once per cached database (``server.py``), through ``TrytonClient``
as a connector would: currencies, a company and an employee, the chart of accounts, three
fiscal years with monthly invoice sequences, payment terms, sales taxes by jurisdiction, a
service product (code ``SERVICE``, per hour) and a payment method. It returns the ids it
created (``TrytonServer.fixture_data``). ``pay_invoice`` pays a posted invoice in full through
Tryton's own wizard, as a clerk would, so a test can see it become ``paid``.
"""

from datetime import UTC, date, datetime
from decimal import Decimal

from integrations.connectors.tryton.client import TrytonClient, get_id

SETUP_VERSION = 2  # raise when the set-up below changes: the cached databases are rebuilt
TAX_RATES = {  # sales tax on services by jurisdiction (a small table for the tests)
    "US-NY": Decimal("0.08875"),
    "US-NJ": Decimal("0.06625"),
    "US-TX": Decimal("0.0625"),
    "US-CA": Decimal("0"),
}
LIST_PRICE = Decimal("150.00")  # the service product's price per hour
PAYMENT_TERMS = {"Net 14": 14, "Net 15": 15, "Net 30": 30, "Net 45": 45, "Net 60": 60}
# Accounts of the "Universal Chart of Accounts" (account.account_template_root_en) by role.
ACCOUNT_CODES = {
    "receivable": "1.2.1", "payable": "2.1.1", "revenue": "4.1.2", "expense": "5.1.3",
    "tax": "6.3.4", "cash": "1.1.1",
}  # fmt: skip


def today() -> date:
    """The company's today: it keeps its books in UTC (its ``timezone``)."""
    return datetime.now(tz=UTC).date()


def tax_name(jurisdiction: str) -> str:
    """The name of the set-up's sales tax of ``jurisdiction`` (what a connector looks up)."""
    return f"Sales tax {jurisdiction}"


def set_up_company(client: TrytonClient) -> dict:
    """A company that can invoice and keep timesheets; returns the ids it created."""
    data = _company(client)
    client.refresh_context()
    data["accounts"] = _chart(client, data["company"])
    data["fiscal_years"] = _fiscal_years(client, data["company"], today().year)
    data.update(_invoicing(client, data))
    return data


def _company(client: TrytonClient) -> dict:
    """USD and EUR, the company (in USD) and an employee, both the admin user's current ones."""
    since = {"date": date(today().year - 1, 1, 1)}
    usd, eur = client.model("currency.currency").create([
        {"name": "U.S. Dollar", "code": "USD", "numeric_code": "840", "symbol": "$", "digits": 2,
         "rounding": Decimal("0.01"), "rates": [["create", [{**since, "rate": Decimal(1)}]]]},
        {"name": "Euro", "code": "EUR", "numeric_code": "978", "symbol": "€", "digits": 2,
         "rounding": Decimal("0.01"), "rates": [["create", [{**since, "rate": Decimal("0.9")}]]]},
    ])  # fmt: skip
    address = {"street": "1 Test Plaza", "city": "New York", "postal_code": "10001"}
    email = {"type": "email", "value": "timesheets@example.com"}
    company_party, employee_party = client.model("party.party").create([
        {"name": "Throughline Test Company", "addresses": [["create", [address]]]},
        {"name": "Ada Timesheet", "contact_mechanisms": [["create", [email]]]},
    ])  # fmt: skip
    (company,) = client.model("company.company").create(
        [{"party": company_party, "currency": usd, "timezone": "UTC"}]
    )
    (employee,) = client.model("company.employee").create(
        [{"party": employee_party, "company": company}]
    )
    client.model("res.user").write([client.user_id], {
        "companies": [["add", [company]]], "company": company,
        "employees": [["add", [employee]]], "employee": employee,
    })  # fmt: skip
    return {
        "user": client.user_id, "company": company, "company_party": company_party,
        "employee": employee, "employee_party": employee_party,
        "currencies": {"USD": usd, "EUR": eur},
    }  # fmt: skip


def _chart(client: TrytonClient, company: int) -> dict:
    """The chart of accounts from its template, with the default receivable and payable."""
    template = get_id(client, "account", "account_template_root_en")
    wizard = "wizard.account.create_chart"
    session, _, _ = client.call(f"{wizard}.create")
    start = {"account": {"company": company, "account_template": template}}
    client.call(f"{wizard}.execute", session, start, "create_account")
    found = client.model("account.account").search_read(
        [("company", "=", company), ("code", "in", list(ACCOUNT_CODES.values()))], ["code"]
    )
    by_code = {row["code"]: row["id"] for row in found}
    accounts = {role: by_code[code] for role, code in ACCOUNT_CODES.items()}
    properties = {
        "company": company,
        "account_receivable": accounts["receivable"],
        "account_payable": accounts["payable"],
        "category_account_revenue": accounts["revenue"],
        "category_account_expense": accounts["expense"],
    }
    client.call(f"{wizard}.execute", session, {"properties": properties}, "create_properties")
    client.call(f"{wizard}.delete", session)
    client.model("account.configuration").write([1], {"tax_rounding": "document"})
    return accounts


def _fiscal_years(client: TrytonClient, company: int, year: int) -> dict:
    """Last, this and next year, in monthly periods, each period with its own invoice and
    credit-note sequences: Tryton numbers an invoice only after every invoice of its
    sequence dated earlier, so a sequence per month lets an invoice be dated in an earlier
    month than one posted before it."""
    move_type = get_id(client, "account", "sequence_type_account_move")
    invoice_type = get_id(client, "account_invoice", "sequence_type_account_invoice")
    sequences = client.model("ir.sequence.strict")
    years = (year - 1, year, year + 1)
    moves = sequences.create([
        {"name": f"Moves {y}", "sequence_type": move_type, "company": company, "prefix": f"M{y}-"}
        for y in years
    ])  # fmt: skip
    fiscal_years = client.model("account.fiscalyear")
    ids = fiscal_years.create([
        {"name": str(y), "company": company, "start_date": date(y, 1, 1),
         "end_date": date(y, 12, 31), "move_sequence": move, "invoice_sequences": []}
        for y, move in zip(years, moves, strict=True)
    ])  # fmt: skip
    fiscal_years.button("create_period", ids)
    periods = client.model("account.period").search_read(
        [("fiscalyear", "in", ids), ("type", "=", "standard")], ["fiscalyear", "start_date"]
    )
    numbered = [(period, kind) for period in periods for kind in ("INV", "CN")]
    numbers = sequences.create([
        {"name": f"{kind} {period['start_date']:%Y-%m}", "sequence_type": invoice_type,
         "company": company, "prefix": f"{kind}{period['start_date']:%Y%m}-", "padding": 4}
        for period, kind in numbered
    ])  # fmt: skip
    pairs = iter(numbers)
    client.model("account.fiscalyear.invoice_sequence").create([
        {"company": company, "fiscalyear": period["fiscalyear"], "period": period["id"],
         "out_invoice_sequence": invoice, "in_invoice_sequence": invoice,
         "out_credit_note_sequence": credit, "in_credit_note_sequence": credit}
        for period, invoice, credit in ((p, next(pairs), next(pairs)) for p in periods)
    ])  # fmt: skip
    return {str(y): fiscal_year for y, fiscal_year in zip(years, ids, strict=True)}


def _invoicing(client: TrytonClient, data: dict) -> dict:
    """Payment terms, sales taxes, the service product and a payment method."""
    company, accounts = data["company"], data["accounts"]
    terms = client.model("account.invoice.payment_term").create([
        {"name": name, "lines": [["create", [
            {"type": "remainder", "relativedeltas": [["create", [{"days": days}]]]}]]]}
        for name, days in PAYMENT_TERMS.items()
    ])  # fmt: skip
    taxes = client.model("account.tax").create([
        {"name": tax_name(code), "description": f"{tax_name(code)} {rate * 100:g}%",
         "company": company, "type": "percentage", "rate": rate,
         "invoice_account": accounts["tax"], "credit_note_account": accounts["tax"]}
        for code, rate in TAX_RATES.items()
    ])  # fmt: skip
    hour = get_id(client, "product", "uom_hour")
    (category,) = client.model("product.category").create([{
        "name": "Professional services", "accounting": True,
        "account_revenue": accounts["revenue"], "account_expense": accounts["expense"],
    }])  # fmt: skip
    (template,) = client.model("product.template").create([{
        "name": "Consulting hour", "code": "SERVICE", "type": "service",
        "default_uom": hour, "salable": True, "sale_uom": hour, "list_price": LIST_PRICE,
        "account_category": category, "products": [["create", [{}]]],
    }])  # fmt: skip
    (product,) = client.model("product.template").read([template], ["products"])[0]["products"]
    journals = client.model("account.journal").search_read(
        [("code", "in", ["REV", "CASH"])], ["code"]
    )
    journal = {row["code"]: row["id"] for row in journals}
    (method,) = client.model("account.invoice.payment.method").create([{
        "name": "Bank transfer", "company": company, "journal": journal["CASH"],
        "credit_account": accounts["cash"], "debit_account": accounts["cash"],
    }])  # fmt: skip
    return {
        "payment_terms": dict(zip(PAYMENT_TERMS, terms, strict=True)),
        "taxes": dict(zip(TAX_RATES, taxes, strict=True)),
        "tax_rates": {code: str(rate) for code, rate in TAX_RATES.items()},
        "uom_hour": hour, "product_category": category, "product_template": template,
        "service_product": product, "list_price": str(LIST_PRICE),
        "journals": {"revenue": journal["REV"], "cash": journal["CASH"]},
        "payment_method": method,
    }  # fmt: skip


def pay_invoice(
    client: TrytonClient, invoice: int, *, payment_method: int, on: date | None = None
) -> None:
    """Pay the posted ``invoice`` in full with ``wizard.account.invoice.pay`` (its state
    becomes ``paid``). The wizard works on the record of its context (``active_id``)."""
    wizard = "wizard.account.invoice.pay"
    context = {"active_model": "account.invoice", "active_id": invoice, "active_ids": [invoice]}
    session, _, _ = client.call(f"{wizard}.create")
    try:
        shown = client.call(f"{wizard}.execute", session, {}, "start", context=context)
        # The defaults carry the amount to pay; "field." keys are display names, not values.
        start = {k: v for k, v in shown["view"]["defaults"].items() if "." not in k}
        start.update(payment_method=payment_method, date=on or today(), description="")
        client.call(f"{wizard}.execute", session, {"start": start}, "choice", context=context)
    finally:
        client.call(f"{wizard}.delete", session, context=context)


def acknowledge_warning(client: TrytonClient, key: str) -> None:
    """Acknowledge a ``TrytonUserWarning`` once (``res.user.warning``): retrying the call that
    raised it then goes through."""
    client.call("model.res.user.warning.skip", key, False)
