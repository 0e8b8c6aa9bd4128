"""Throughline's CRM operations as Salesforce REST calls (one call each; Collections where one
call can do many records).

- ``crm.account.update``: ``PATCH sobjects/Account/<Id>`` with the changed fields on the org's
  names, and our id in ``Throughline_Id__c`` (so the org can look us up). By Salesforce Id, not
  an upsert: the account exists (it came from Salesforce) and may not carry our id yet, so an
  upsert by our id would create a second one.
- ``crm.account.merge``: the merged accounts marked with the survivor (``Merged_Into__c``) in
  one sObject Collections call, all or none; Salesforce's own merge is not in its REST API
  (an admin merges them in Salesforce, the mark says which to keep).
- ``crm.invoice_status.update``: an upsert of the invoice record (``Invoice__c`` by its
  external id ``Throughline_Id__c`` = our invoice id) related to the account and the
  opportunity by their Salesforce ids: a repeat finds the same record (idempotent by design).
- ``crm.event.publish``: a platform event (``Throughline_Event__e``) with the type, the
  idempotency key (subscribers drop repeats by it) and the payload as JSON.
"""

import json
from urllib.parse import quote

from integrations.connectors.base import DeliveryResult
from integrations.connectors.salesforce import mapping
from integrations.connectors.salesforce.client import SalesforceClient
from integrations.connectors.salesforce.errors import SalesforceRefused, first_error

EXTERNAL_ID_FIELD = "Throughline_Id__c"
INVOICE_OBJECT = "Invoice__c"
EVENT_OBJECT = "Throughline_Event__e"
COLLECTION_SIZE = 200  # records per sObject Collections call (Salesforce's limit)
PAYLOAD_LIMIT = 131072  # a long text area's characters


def _options(client: SalesforceClient) -> dict:
    return dict((client.system.settings or {}).get("salesforce") or {})


def update_account(
    client: SalesforceClient, rules: mapping.Mapping, payload: dict, key: str
) -> DeliveryResult:
    values = {
        name: (None if value == "" else value)  # "" = cleared by its owner: null in Salesforce
        for name, value in payload.items()
        if name not in ("external_id", "legal_entity")
    }
    fields = mapping.fields_for(rules, mapping.ACCOUNT, values)
    account_id = payload["external_id"]
    client.request("PATCH", f"sobjects/Account/{quote(account_id, safe='')}", json=fields)
    return DeliveryResult(external_id=account_id, data={"fields": sorted(fields)})


def merge_accounts(
    client: SalesforceClient, rules: mapping.Mapping, payload: dict, key: str
) -> DeliveryResult:
    merged_into = mapping.source_of(rules, mapping.ACCOUNT, "merged_into")
    if not merged_into:
        raise SalesforceRefused("NOT_MAPPED", "the account field merged_into is not mapped", [])
    survivor = payload["external_id"]
    marked: list[str] = []
    ids = list(payload["merged_external_ids"])
    for start in range(0, len(ids), COLLECTION_SIZE):
        chunk = ids[start : start + COLLECTION_SIZE]
        body = {
            "allOrNone": True,
            "records": [
                {"attributes": {"type": "Account"}, "Id": account_id, merged_into: survivor}
                for account_id in chunk
            ],
        }
        answer = client.request("PATCH", "composite/sobjects", json=body) or []
        _raise_item_failure(answer, chunk)
        marked += chunk
    return DeliveryResult(external_id=survivor, data={"marked": marked})


def _raise_item_failure(answer: list, ids: list[str]) -> None:
    for item, record_id in zip(answer, ids, strict=False):
        if not item.get("success"):
            code, message, fields = first_error(item.get("errors") or [])
            if code == "ALL_OR_NONE_OPERATION_ROLLED_BACK":
                continue  # another item's failure rolled this one back: that one names it
            raise SalesforceRefused(code, f"{record_id}: {message}", fields)


def upsert_invoice_status(
    client: SalesforceClient, rules: mapping.Mapping, payload: dict, key: str
) -> DeliveryResult:
    opportunities = list(payload.get("crm_opportunity_ids") or [])
    values = {
        "number": payload["number"],
        "status": payload["status"],
        "total": payload["total"]["amount"],
        "amount_due": (payload.get("amount_due") or {}).get("amount"),
        "currency": payload["total"]["currency"],
        "period": payload["period"],
        "erp_invoice_id": payload["erp_invoice_id"] or None,
        "account": payload.get("crm_account_id") or None,
        "opportunity": opportunities[0] if opportunities else None,
        "opportunities": ", ".join(opportunities) or None,
    }
    fields = mapping.fields_for(rules, mapping.INVOICE, values)
    external_field = mapping.source_of(rules, mapping.INVOICE, "invoice_id") or EXTERNAL_ID_FIELD
    fields.pop(external_field, None)  # never in the body of an upsert by it
    sobject = _options(client).get("invoice_object") or INVOICE_OBJECT
    path = f"sobjects/{sobject}/{external_field}/{quote(payload['invoice_id'], safe='')}"
    try:
        answer = client.request("PATCH", path, json=fields) or {}
    except SalesforceRefused as refused:
        named = external_field in refused.fields or external_field in refused.sf_message
        if refused.code != "DUPLICATE_VALUE" or not named:
            raise
        # Two upserts of the same key at once: the other one created the record, so this one
        # clashed on the key itself. Once more is an update of that record.
        answer = client.request("PATCH", path, json=fields) or {}
    return DeliveryResult(
        external_id=str(answer.get("id") or ""),
        data={"created": bool(answer.get("created")), "status": payload["status"]},
    )


def publish_event(
    client: SalesforceClient, rules: mapping.Mapping, payload: dict, key: str
) -> DeliveryResult:
    sobject = _options(client).get("event_object") or EVENT_OBJECT
    text = json.dumps(payload, separators=(",", ":"), default=str)
    if len(text) > PAYLOAD_LIMIT:  # never cut JSON in two: say what it was instead
        text = json.dumps({"type": payload["type"], "truncated": True, "length": len(text)})
    body = {"Type__c": payload["type"], "Idempotency_Key__c": key[:255], "Payload__c": text}
    answer = client.request("POST", f"sobjects/{sobject}", json=body) or {}
    return DeliveryResult(external_id=str(answer.get("id") or ""), data={"published": True})


OPERATIONS = {
    "crm.account.update": update_account,
    "crm.account.merge": merge_accounts,
    "crm.invoice_status.update": upsert_invoice_status,
    "crm.event.publish": publish_event,
}
