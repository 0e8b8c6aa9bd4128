"""Salesforce records as the contract's canonical events, and our records as Salesforce fields.

``DEFAULT_FIELDS`` is the mapping a new system starts with (seeded as FieldMapping rows, edited
in the admin): for each kind of record, Throughline's field → the Salesforce field's API name,
and for picklists the values. Standard fields keep their names; what Salesforce has no standard
field for is a custom field (``__c``) the org adds (docs/connectors/salesforce.md).

A translation takes a record as a dict of Salesforce field → value (an Outbound Message's
``sObject``, a change event's body, a REST read) and answers ``(event type, data)`` or a reason
it is not one (an opportunity not won). Values are converted to the contract's types here:
``"true"`` → true, ``"48000.0"`` → ``"48000.0"`` (decimals stay strings), dates cut to
``YYYY-MM-DD``; an empty or nil value is left out (an optional field, absent).
"""

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation

ACCOUNT, CONTACT, OPPORTUNITY, INVOICE = "account", "contact", "opportunity", "invoice"

DEFAULT_FIELDS: dict[str, dict[str, str]] = {
    ACCOUNT: {
        "account_id": "Id",
        "name": "Name",
        "website": "Website",
        "industry": "Industry",
        "phone": "Phone",
        "parent_account_id": "ParentId",
        "owner_email": "Owner_Email__c",
        "billing_country": "BillingCountry",
        "updated_at": "LastModifiedDate",
        # written by Throughline (crm.account.update)
        "throughline_id": "Throughline_Id__c",
        "legal_name": "Legal_Name__c",
        "payment_terms": "Payment_Terms__c",
        "currency": "Billing_Currency__c",
        "tax_id": "Tax_Id__c",
        "merged_into": "Merged_Into__c",
    },
    CONTACT: {
        "contact_id": "Id",
        "account_id": "AccountId",
        "first_name": "FirstName",
        "last_name": "LastName",
        "email": "Email",
        "phone": "Phone",
        "title": "Title",
        "is_billing_contact": "Billing_Contact__c",
        "updated_at": "LastModifiedDate",
    },
    OPPORTUNITY: {
        "opportunity_id": "Id",
        "account_id": "AccountId",
        "account_name": "Account_Name__c",  # a formula field (Account.Name): messages carry no related fields
        "name": "Name",
        "won": "IsWon",
        "close_date": "CloseDate",
        "amount": "Amount",
        "currency": "CurrencyIsoCode",
        "legal_entity": "Legal_Entity__c",
        "billing_model": "Billing_Model__c",
        "start_date": "Start_Date__c",
        "end_date": "End_Date__c",
        "tax_jurisdiction": "Tax_Jurisdiction__c",
        "project_template": "Project_Template__c",
        "rate_card": "Rate_Card__c",
        "not_to_exceed": "Not_To_Exceed__c",
        "po_number": "PO_Number__c",
        "payment_terms": "Payment_Terms__c",
        "milestones": "Milestones__c",
        "retainer_monthly_amount": "Retainer_Monthly_Amount__c",
        "retainer_included_hours": "Retainer_Included_Hours__c",
        "updated_at": "LastModifiedDate",
    },
    INVOICE: {
        "invoice_id": "Throughline_Id__c",
        "number": "Invoice_Number__c",
        "status": "Status__c",
        "total": "Total__c",
        "amount_due": "Amount_Due__c",
        "currency": "CurrencyIsoCode",
        "period": "Period__c",
        "erp_invoice_id": "ERP_Invoice_Id__c",
        "account": "Account__c",
        "opportunity": "Opportunity__c",
        "opportunities": "Opportunity_Ids__c",
    },
}
DEFAULT_VALUES: dict[tuple[str, str], dict[str, str]] = {
    (OPPORTUNITY, "billing_model"): {
        "Time and Materials": "time_and_materials",
        "Time & Materials": "time_and_materials",
        "Fixed Fee": "fixed_fee",
        "Retainer": "retainer",
    },
    # Written: ours → the picklist value the org shows.
    (INVOICE, "status"): {
        "draft": "Draft",
        "approved": "Approved",
        "posting": "Posting",
        "posted": "Posted",
        "sent": "Sent",
        "partially_paid": "Partially Paid",
        "paid": "Paid",
        "void": "Void",
    },
}
SOBJECTS = {ACCOUNT: "Account", CONTACT: "Contact", OPPORTUNITY: "Opportunity"}
RECORD_OF_SOBJECT = {sobject: record for record, sobject in SOBJECTS.items()}


@dataclass(frozen=True)
class Rule:
    source: str
    values: dict[str, str] = field(default_factory=dict)


Mapping = dict[str, dict[str, Rule]]  # record → our field → rule


def default_mapping() -> Mapping:
    return {
        record: {
            name: Rule(source, dict(DEFAULT_VALUES.get((record, name), {})))
            for name, source in fields.items()
        }
        for record, fields in DEFAULT_FIELDS.items()
    }


def with_rows(rows) -> Mapping:
    """The defaults with the system's FieldMapping rows over them (``rows``: objects with
    record, field, source, values)."""
    mapping = default_mapping()
    for row in rows:
        mapping.setdefault(row.record, {})[row.field] = Rule(row.source, dict(row.values or {}))
    return mapping


@dataclass(frozen=True)
class Translation:
    event_type: str = ""
    data: dict = field(default_factory=dict)
    occurred_at: str = ""
    skipped: str = ""  # why the record is no event (empty when it is one)


def _text(value) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float | int | Decimal):
        return str(Decimal(str(value)))
    text = str(value).strip()
    return text or None


def _boolean(value) -> bool | None:
    if isinstance(value, bool):
        return value
    text = _text(value)
    return None if text is None else text.lower() == "true"


def _date(value) -> str | None:
    text = _text(value)
    if text and text.isdigit():  # epoch milliseconds (the Pub/Sub form)
        return datetime.fromtimestamp(int(text) / 1000, UTC).date().isoformat()
    return text[:10] if text else None


def timestamp(value) -> str | None:
    """An ISO 8601 date-time with its offset: Salesforce writes ``…000Z`` or ``…000+0000``."""
    text = _text(value)
    if not text:
        return None
    if text.isdigit():
        return datetime.fromtimestamp(int(text) / 1000, UTC).isoformat()
    if len(text) > 5 and text[-5] in "+-" and text[-4:].isdigit():
        text = f"{text[:-2]}:{text[-2:]}"  # +0000 → +00:00
    return text.replace("Z", "+00:00")


def _decimal(value) -> str | None:
    text = _text(value)
    if text is None:
        return None
    try:
        return str(Decimal(text))
    except InvalidOperation:
        return text  # the schema check names it


class Reader:
    """One record's values through one record kind's rules."""

    def __init__(self, rules: dict[str, Rule], record: dict) -> None:
        self.rules, self.record = rules, record

    def raw(self, name: str):
        rule = self.rules.get(name)
        return self.record.get(rule.source) if rule and rule.source else None

    def text(self, name: str) -> str | None:
        value = _text(self.raw(name))
        rule = self.rules.get(name)
        if value is not None and rule and rule.values:
            return rule.values.get(value, value)
        return value

    def put(self, data: dict, name: str, value) -> None:
        if value is not None:
            data[name] = value


def translate(mapping: Mapping, record_kind: str, record: dict) -> Translation:
    rules = mapping.get(record_kind, {})
    read = Reader(rules, record)
    if not read.text(_id_field(record_kind)):
        return Translation(skipped="the record has no Id")
    return _TRANSLATIONS[record_kind](read)


def _id_field(record_kind: str) -> str:
    return {ACCOUNT: "account_id", CONTACT: "contact_id", OPPORTUNITY: "opportunity_id"}[
        record_kind
    ]


def _account(read: Reader) -> Translation:
    data: dict = {}
    for name in ("account_id", "name", "website", "industry", "phone", "parent_account_id"):
        read.put(data, name, read.text(name))
    read.put(data, "owner_email", read.text("owner_email"))
    country = read.text("billing_country")
    read.put(data, "billing_country", country.upper() if country else None)
    updated_at = timestamp(read.raw("updated_at"))
    read.put(data, "updated_at", updated_at)
    return Translation("crm.account.upserted", data, updated_at or "")


def _contact(read: Reader) -> Translation:
    data: dict = {}
    for name in ("contact_id", "account_id", "first_name", "last_name", "email", "phone", "title"):
        read.put(data, name, read.text(name))
    read.put(data, "is_billing_contact", _boolean(read.raw("is_billing_contact")))
    updated_at = timestamp(read.raw("updated_at"))
    read.put(data, "updated_at", updated_at)
    return Translation("crm.contact.upserted", data, updated_at or "")


OPPORTUNITY_TEXT = (
    "opportunity_id",
    "account_id",
    "account_name",
    "name",
    "currency",
    "legal_entity",
    "billing_model",
    "tax_jurisdiction",
    "project_template",
    "rate_card",
    "po_number",
    "payment_terms",
)


def _opportunity(read: Reader) -> Translation:
    if _boolean(read.raw("won")) is not True:
        return Translation(skipped="the opportunity is not won")
    data: dict = {}
    for name in OPPORTUNITY_TEXT:
        read.put(data, name, read.text(name))
    for name in ("close_date", "start_date", "end_date"):
        read.put(data, name, _date(read.raw(name)))
    read.put(data, "amount", _decimal(read.raw("amount")))
    read.put(data, "not_to_exceed", _decimal(read.raw("not_to_exceed")))
    monthly = _decimal(read.raw("retainer_monthly_amount"))
    hours = _decimal(read.raw("retainer_included_hours"))
    if monthly is not None and hours is not None:
        data["retainer"] = {"monthly_amount": monthly, "included_hours": hours}
    milestones = read.text("milestones")
    if milestones:
        data["milestones"] = _milestones(milestones)
    updated_at = timestamp(read.raw("updated_at"))
    return Translation("crm.opportunity.closed_won", data, updated_at or "")


def _milestones(text: str):
    """A long text field holding the milestones as JSON (``[{"name", "amount", "due_date"}]``);
    anything else is passed on for the schema check to name."""
    try:
        return json.loads(text)
    except ValueError:
        return text


_TRANSLATIONS = {ACCOUNT: _account, CONTACT: _contact, OPPORTUNITY: _opportunity}


def fields_for(mapping: Mapping, record_kind: str, values: dict) -> dict:
    """Our values as Salesforce fields (a write): each name through its rule; a picklist
    through ``values`` (ours → the org's); an unmapped name is left out."""
    rules = mapping.get(record_kind, {})
    out = {}
    for name, value in values.items():
        rule = rules.get(name)
        if rule is None or not rule.source:
            continue
        if isinstance(value, str) and rule.values:
            value = rule.values.get(value, value)
        out[rule.source] = value
    return out


def source_of(mapping: Mapping, record_kind: str, name: str) -> str:
    """The Salesforce field one of our fields is mapped to ("" when it is not mapped)."""
    rule = mapping.get(record_kind, {}).get(name)
    return rule.source if rule else ""


def source_fields(mapping: Mapping, record_kind: str) -> list[str]:
    """The Salesforce fields one kind of record is read from (a SOQL select list)."""
    return sorted({r.source for r in mapping.get(record_kind, {}).values() if r.source})
