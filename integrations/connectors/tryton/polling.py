"""What Throughline polls from Tryton: invoice state changes (posted, partly paid, paid,
cancelled) as ``erp.invoice.status_changed``, approved time as ``psa.time_entry.approved``
(integrations/connectors/tryton/psa.py), and a reference check (payment terms, taxes,
currencies the settings name but Tryton lacks).

Cursors are Tryton ``write_date`` values (ISO, UTC). Each read starts *at* the cursor, so a
change written in the same instant as the last one read is not missed; what is read twice
has the same key and is stored once.
"""

from integrations.connectors.pull import Changes, PulledEvent
from integrations.connectors.tryton import erp, mapping, psa, setup
from integrations.connectors.tryton.client import TrytonClient

PAGE = 500


def invoice_changes(client: TrytonClient, lookups: setup.Lookups, since: str | None) -> Changes:
    rows = erp.read_invoices_changed(client, lookups.options, since, limit=PAGE)
    events, cursor = [], since or ""
    for row in rows:
        changed_at = mapping.aware(row["write_date"] or row["create_date"]).isoformat()
        cursor = max(cursor, changed_at)
        data = mapping.invoice_status(row)
        if data is None:
            continue
        events.append(
            PulledEvent(
                key=f"tryton-invoice:{row['id']}:{changed_at}",
                event_type="erp.invoice.status_changed",
                data=data,
                occurred_at=changed_at,
            )
        )
    return Changes(events=events, cursor=cursor, read=len(rows))


def reference_check(client: TrytonClient, lookups: setup.Lookups, since: str | None) -> Changes:
    """Payment terms, taxes and currencies: every name the settings map to must exist in
    Tryton (a missing one would refuse each customer or invoice that needs it)."""
    options = lookups.options
    terms = {
        r["name"] for r in client.model("account.invoice.payment_term").search_read([], ["name"])
    }
    taxes = {
        r["name"]
        for r in client.model("account.tax").search_read(
            [("company", "=", lookups.company)], ["name"]
        )
    }
    currencies = {r["code"] for r in client.model("currency.currency").search_read([], ["code"])}
    problems = [
        f"payment terms {ours!r} map to {theirs!r}, which Tryton does not have"
        for ours, theirs in sorted((options.get("payment_terms") or {}).items())
        if theirs not in terms
    ]
    for jurisdiction in sorted(options.get("taxes") or {}):
        problems += [
            f"tax jurisdiction {jurisdiction} maps to {name!r}, which Tryton does not have"
            for name in mapping.tax_names(options, jurisdiction)
            if name not in taxes
        ]
    problems += [
        f"currency {code} is used but not in Tryton"
        for code in sorted(options.get("currencies") or [])
        if code not in currencies
    ]
    return Changes(read=len(terms) + len(taxes) + len(currencies), problems=problems)


STREAMS = {
    "invoices": invoice_changes,
    "reference": reference_check,
    "time": psa.time_changes,
}
