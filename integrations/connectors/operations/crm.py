"""The CRM port: what Throughline asks of a CRM (mdm's field ownership and merges, billing's
invoice statuses, events). Payloads as mdm/services/ownership.py ``propagate``,
mdm/services/merge.py ``_send_merge`` and billing/services/invoice_posting.py ``_set_status``
build them."""

from typing import Literal, NotRequired, TypedDict, get_args

from integrations.connectors.operations.spec import (
    MONEY_VALUE,
    PERIOD,
    TEXT,
    MoneyValue,
    Operation,
    event_publish,
)
from integrations.connectors.schemas import ID, nullable, obj

InvoiceStatus = Literal[
    "draft", "approved", "posting", "posted", "sent", "partially_paid", "paid", "void"
]


class CrmAccountUpdate(TypedDict):
    """Owner changes to an existing account: only the fields that changed travel, on the CRM's
    wire names (mdm CRM_WIRE); ``legal_entity`` when the change is a billing profile's (the
    account itself belongs to no legal entity). Values the owner cleared are ``""``."""

    external_id: str
    throughline_id: str
    legal_entity: NotRequired[str]
    name: NotRequired[str]
    website: NotRequired[str]
    industry: NotRequired[str]
    phone: NotRequired[str]
    owner_email: NotRequired[str]
    billing_country: NotRequired[str]
    parent_account_id: NotRequired[str | None]
    legal_name: NotRequired[str]
    payment_terms: NotRequired[str]
    currency: NotRequired[str]
    tax_id: NotRequired[str]


class CrmAccountMerge(TypedDict):
    """Merge ``merged_external_ids`` into the surviving account ``external_id``."""

    external_id: str
    merged_external_ids: list[str]
    throughline_id: str
    merged_throughline_id: str


class CrmInvoiceStatusUpdate(TypedDict):
    """An invoice's status shown on the CRM account and opportunity (one message per status,
    in order). ``crm_account_id`` and ``crm_opportunity_ids`` are the CRM's own ids (the deals
    the invoice bills), so a CRM can file it without knowing ours."""

    invoice_id: str
    erp_invoice_id: str
    number: str
    status: InvoiceStatus
    customer_id: str
    crm_account_id: str
    crm_opportunity_ids: list[str]
    legal_entity: str
    period: str
    total: MoneyValue
    amount_due: MoneyValue | None


ACCOUNT_TEXT = (
    "name",
    "website",
    "industry",
    "phone",
    "owner_email",
    "billing_country",
    "legal_name",
    "payment_terms",
    "currency",
    "tax_id",
)
ACCOUNT_UPDATE = obj(
    {"external_id": ID, "throughline_id": ID},
    {
        "legal_entity": ID,
        **dict.fromkeys(ACCOUNT_TEXT, TEXT),
        "parent_account_id": nullable(ID),
    },
)
ACCOUNT_MERGE = obj(
    {
        "external_id": ID,
        "merged_external_ids": {"type": "array", "items": ID},
        "throughline_id": ID,
        "merged_throughline_id": ID,
    }
)
INVOICE_STATUS_UPDATE = obj(
    {
        "invoice_id": ID,
        "erp_invoice_id": TEXT,
        "number": TEXT,
        "status": {"enum": list(get_args(InvoiceStatus))},
        "customer_id": ID,
        "crm_account_id": TEXT,
        "crm_opportunity_ids": {"type": "array", "items": ID},
        "legal_entity": ID,
        "period": PERIOD,
        "total": MONEY_VALUE,
        "amount_due": nullable(MONEY_VALUE),
    }
)

OPERATIONS = (
    Operation(
        name="crm.account.update",
        port="crm",
        description="write CRM-owned or ERP-owned fields back to the CRM account",
        payload=CrmAccountUpdate,
        schema=ACCOUNT_UPDATE,
        creates=False,
    ),
    Operation(
        name="crm.account.merge",
        port="crm",
        description="merge duplicate CRM accounts into the surviving one (mdm)",
        payload=CrmAccountMerge,
        schema=ACCOUNT_MERGE,
        creates=False,
    ),
    Operation(
        name="crm.invoice_status.update",
        port="crm",
        description="show an invoice's status on the CRM account/opportunity",
        payload=CrmInvoiceStatusUpdate,
        schema=INVOICE_STATUS_UPDATE,
        creates=False,
    ),
    event_publish("crm"),
)
