"""The ERP port on Tryton: customers as parties, invoices as customer invoices, posted.

Tryton has no idempotency keys, so every create is checked first by our reference: a party's
``code`` is our customer's Throughline id; an invoice's ``reference`` is ``TL-INV-<our id>``.
A retry after an answer lost on the way back finds what the first call made and creates
nothing twice. An invoice is created with all its lines in one ``create`` (one call, not one
per line), posted with one ``post``, then read back (number, totals, state, amount to pay),
so the caller compares Tryton's totals with ours at once. ``read_invoices`` reads invoices
back by id for the reconciliation (integrations/connectors/readback.py).

An invoice whose lines are all credit lines (a retraction after posting) is a credit note in
Tryton: the same document type with negative quantities, numbered in the credit-note sequence.
"""

from integrations.connectors.base import DeliveryResult, PermanentError
from integrations.connectors.readback import ReadInvoice
from integrations.connectors.tryton import mapping, setup
from integrations.connectors.tryton.client import TrytonClient
from integrations.connectors.tryton.errors import TrytonUserWarning

INVOICE_FIELDS = [
    "id",
    "number",
    "state",
    "reference",
    "untaxed_amount",
    "tax_amount",
    "total_amount",
    "amount_to_pay",
    "currency.code",
    "write_date",
    "invoice_date",
]


def upsert_customer(client: TrytonClient, lookups: setup.Lookups, payload: dict) -> DeliveryResult:
    """``erp.customer.upsert``: the party matched by id (the payload's ``external_id``), else
    by code (our Throughline id), else created with that code and an invoice address."""
    parties = client.model("party.party")
    code = mapping.party_code(lookups.options, payload["throughline_id"])
    party_id = _party_id(parties, payload.get("external_id"), code)
    term_name = mapping.term_name(client_settings(lookups), payload.get("payment_terms") or "")
    values: dict = {"name": payload.get("legal_name") or payload["name"]}
    term = setup.payment_term(client, lookups, term_name)
    if term is not None:
        values["customer_payment_term"] = term
    created = party_id is None
    if party_id is None:
        values.update(code=code, addresses=[["create", [{}]]])
        party_id = parties.create([values])[0]
    else:
        parties.write([party_id], values)
    return DeliveryResult(
        external_id=str(party_id), data={"party_id": party_id, "code": code, "created": created}
    )


def _party_id(parties, external_id: str | None, code: str) -> int | None:
    if external_id:
        try:
            wanted = int(external_id)
        except ValueError as exc:
            raise PermanentError(f"{external_id!r} is not a Tryton party id") from exc
        if not parties.search([("id", "=", wanted)], limit=1):
            raise PermanentError(f"Tryton has no party {wanted} (matched ERP customer)")
        return wanted
    found = parties.search([("code", "=", code)], limit=1)
    return found[0] if found else None


def merge_customers(client: TrytonClient, lookups: setup.Lookups, payload: dict) -> DeliveryResult:
    """``erp.customer.merge``: Tryton's party replacement (every document of the merged
    parties now names the survivor; the merged parties are deactivated)."""
    survivor = int(payload["external_id"])
    for merged in payload["merged_external_ids"]:
        if int(merged) == survivor:
            continue
        session = client.call("wizard.party.replace.create")[0]
        try:
            client.call(
                "wizard.party.replace.execute",
                session,
                {"ask": {"source": int(merged), "destination": survivor}},
                "replace",
            )
        finally:
            client.call("wizard.party.replace.delete", session)
    return DeliveryResult(
        external_id=str(survivor), data={"merged": payload["merged_external_ids"]}
    )


def create_invoice(client: TrytonClient, lookups: setup.Lookups, payload: dict) -> DeliveryResult:
    """``erp.invoice.create``: find the invoice by our reference, else create it with every
    line in one call; post it if it is not posted yet; read it back."""
    invoices = client.model("account.invoice")
    reference = mapping.invoice_reference(lookups.options, payload["invoice_id"])
    found = invoices.search([("reference", "=", reference), ("type", "=", "out")], limit=1)
    made = [] if found else invoices.create([invoice_values(client, lookups, payload)])
    invoice_id = (found or made)[0]
    state = invoices.read([invoice_id], ["state"])[0]["state"]
    if state in ("draft", "validated"):
        _post(client, lookups, invoice_id)
    elif state == "cancelled":
        raise PermanentError(f"Tryton invoice {invoice_id} ({reference}) is cancelled")
    row = invoices.read([invoice_id], INVOICE_FIELDS)[0]
    return DeliveryResult(
        external_id=str(invoice_id),
        data={"status_changed": mapping.invoice_status(row), "created": not found},
    )


# Tryton warnings an integration answers "yes" to: the taxes come from the jurisdiction
# mapping on purpose, not from the product's defaults. Others go to a person (permanent).
ACKNOWLEDGED_WARNINGS = ("invoice_taxes",)


def _post(client: TrytonClient, lookups: setup.Lookups, invoice_id: int) -> None:
    """Post, answering "yes" to the warnings the settings allow (each once; Tryton asks them
    one after another); any other warning goes to a person with Tryton's words."""
    allowed = tuple(lookups.options.get("acknowledge_warnings", ACKNOWLEDGED_WARNINGS))
    answered: set[str] = set()
    while True:
        try:
            client.model("account.invoice").button("post", [invoice_id])
            return
        except TrytonUserWarning as warning:
            if warning.key.rsplit(".", 1)[-1] not in allowed or warning.key in answered:
                raise
            answered.add(warning.key)
            client.model("res.user.warning").create(
                [{"user": client.user_id, "name": warning.key, "always": False}]
            )


def invoice_values(client: TrytonClient, lookups: setup.Lookups, payload: dict) -> dict:
    """The ``account.invoice`` values of an approved draft, its lines nested (one create)."""
    options = client_settings(lookups)
    party = _customer_party(client, lookups, payload)
    currency_id, digits = setup.currency(client, lookups, payload["currency"])
    taxes = [
        setup.tax(client, lookups, name)
        for name in mapping.tax_names(options, payload["tax_jurisdiction"])
    ]
    lines = []
    for line in payload["lines"]:
        product = setup.product(client, lookups, mapping.product_code(options, line))
        lines.append(mapping.invoice_line(line, product, taxes, digits))
    values = {
        "type": "out",
        "company": lookups.company,
        "party": party["id"],
        "invoice_address": party["address"],
        "account": party["receivable"],
        "currency": currency_id,
        "journal": setup.journal(client, lookups, options.get("journal", "")),
        "invoice_date": mapping.parse_date(payload["invoice_date"]),
        "reference": mapping.invoice_reference(options, payload["invoice_id"]),
        "description": mapping.invoice_description(payload),
        "lines": [["create", lines]],
    }
    if party["term"]:
        values["payment_term"] = party["term"]
    return values


def _customer_party(client: TrytonClient, lookups: setup.Lookups, payload: dict) -> dict:
    code = payload.get("customer_throughline_id") or ""
    code = mapping.party_code(lookups.options, code) if code else ""
    parties = client.model("party.party")
    domain = [("code", "=", code)] if code else [("id", "=", int(payload["erp_customer_id"]))]
    rows = parties.search_read(
        domain, ["id", "addresses", "account_receivable", "customer_payment_term"], limit=1
    )
    if not rows:
        raise PermanentError(
            f"Tryton has no party for customer {code or payload.get('erp_customer_id')}: "
            "the ERP customer must exist before its invoices (replay after it is created)"
        )
    row = rows[0]
    if not row["addresses"]:
        raise PermanentError(f"Tryton party {row['id']} has no address to invoice")
    receivable = row["account_receivable"] or setup.default_receivable(client, lookups)
    if not receivable:
        raise PermanentError(f"Tryton party {row['id']} has no receivable account")
    return {
        "id": row["id"],
        "address": row["addresses"][0],
        "receivable": receivable,
        "term": row.get("customer_payment_term"),
    }


def read_invoices_changed(
    client: TrytonClient, options: dict, since: str | None, *, limit: int
) -> list[dict]:
    """Our invoices (reference ``TL-INV-…``) changed at or after ``since``, oldest first."""
    ours = mapping.invoice_reference(options, "%")
    domain: list = [("type", "=", "out"), ("reference", "like", ours)]
    if since:
        domain.append(("write_date", ">=", mapping.parse_datetime(since)))
    return client.model("account.invoice").search_read(
        domain, INVOICE_FIELDS, limit=limit, order=[("write_date", "ASC"), ("id", "ASC")]
    )


# Invoices per read-back call: one search_read with an id list this long is one request.
READ_PAGE = 500


def read_invoices(
    client: TrytonClient, lookups: setup.Lookups, ids: list[str]
) -> dict[str, ReadInvoice]:
    """The read-back port: the company's customer invoices of ``ids`` (Tryton ids, as text),
    ``READ_PAGE`` per call; an id Tryton does not have (or that is not a number) is absent."""
    wanted = sorted({int(i) for i in ids if str(i).isdigit()})
    invoices = client.model("account.invoice")
    found: dict[str, ReadInvoice] = {}
    for start in range(0, len(wanted), READ_PAGE):
        domain = [
            ("id", "in", wanted[start : start + READ_PAGE]),
            ("type", "=", "out"),
            ("company", "=", lookups.company),
        ]
        for row in invoices.search_read(domain, INVOICE_FIELDS):
            found[str(row["id"])] = mapping.read_invoice(row)
    return found


def client_settings(lookups: setup.Lookups) -> dict:
    return lookups.options
