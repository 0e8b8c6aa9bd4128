"""Reads back from Salesforce (the read-back port, integrations/connectors/readback.py).

``read_invoice_statuses``: one SOQL query per ``QUERY_IDS`` of our invoice ids on the invoice
object (``Invoice__c`` unless ``settings["salesforce"]["invoice_object"]`` names another) by
the external id field (``Throughline_Id__c``), reading the status field; both field names come
from the system's field mapping (``mapping.py``), and the org's picklist values are mapped back
to ours through the same mapping ("Partially Paid" → ``partially_paid``). A value the mapping
does not know is answered as the org wrote it, so the comparison shows it.
"""

from integrations.connectors.salesforce import mapping
from integrations.connectors.salesforce.client import API_VERSION, SalesforceClient
from integrations.connectors.salesforce.errors import SalesforceRefused
from integrations.connectors.salesforce.writes import EXTERNAL_ID_FIELD, INVOICE_OBJECT

# Ids per query: 200 short ids keep the SOQL text far below Salesforce's 100,000 characters.
QUERY_IDS = 200


def soql_text(value: str) -> str:
    """A SOQL string literal (backslash and quote escaped)."""
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def query(client: SalesforceClient, soql: str) -> list[dict]:
    """Every record of ``soql``, following ``nextRecordsUrl`` page by page."""
    answer = client.request("GET", "query", params={"q": soql}) or {}
    records = list(answer.get("records") or [])
    while answer.get("nextRecordsUrl") and not answer.get("done", True):
        path = str(answer["nextRecordsUrl"]).split(f"/v{API_VERSION}/", 1)[-1]
        answer = client.request("GET", path) or {}
        records += answer.get("records") or []
    return records


def read_invoice_statuses(
    client: SalesforceClient, rules: mapping.Mapping, invoice_ids: list[str]
) -> dict[str, str]:
    invoice_rules = rules.get(mapping.INVOICE, {})
    key_rule, status_rule = invoice_rules.get("invoice_id"), invoice_rules.get("status")
    if status_rule is None or not status_rule.source:
        raise SalesforceRefused("NOT_MAPPED", "the invoice field status is not mapped", [])
    key_field = key_rule.source if key_rule and key_rule.source else EXTERNAL_ID_FIELD
    ours_of = {theirs: ours for ours, theirs in status_rule.values.items()}
    options = (client.system.settings or {}).get("salesforce") or {}
    sobject = options.get("invoice_object") or INVOICE_OBJECT
    wanted = sorted({str(invoice_id) for invoice_id in invoice_ids})
    found: dict[str, str] = {}
    for start in range(0, len(wanted), QUERY_IDS):
        listed = ", ".join(soql_text(i) for i in wanted[start : start + QUERY_IDS])
        soql = (
            f"SELECT {key_field}, {status_rule.source} FROM {sobject} "
            f"WHERE {key_field} IN ({listed})"
        )
        for record in query(client, soql):
            status = str(record.get(status_rule.source) or "")
            found[str(record.get(key_field))] = ours_of.get(status, status)
    return found
