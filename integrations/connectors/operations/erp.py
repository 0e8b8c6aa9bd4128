"""The ERP port: customers per legal entity (billing's new contracts, mdm's field ownership and
merges), approved time (costing), invoices, events. Payloads as
billing/services/project_messages.py ``queue_erp_customer``, mdm/services/ownership.py
``propagate``, mdm/services/merge.py ``_send_merge``, billing/services/time_entries.py
``_queue_erp_time_record`` and billing/services/invoice_posting.py ``_erp_payload`` build them."""

from typing import Literal, NotRequired, TypedDict, get_args

from integrations.connectors.operations.spec import (
    PERIOD,
    TEXT,
    Operation,
    blank_or,
    event_publish,
)
from integrations.connectors.schemas import (
    CURRENCY,
    DATE,
    EMAIL,
    HOURS,
    ID,
    MONEY,
    RATE,
    nullable,
    obj,
)

LineKind = Literal["time", "milestone", "retainer", "overage", "credit", "adjustment"]
# Invoice line hours: 8 digits and 2 decimals as the column holds; negative on a credit line.
LINE_HOURS = {"type": "string", "pattern": r"^-?\d{1,8}(\.\d{1,2})?$"}


class BillTo(TypedDict):
    """Every part present; a part the record lacks is ``""``."""

    line1: str
    line2: str
    city: str
    region: str
    postal_code: str
    country: str


class BillingContact(TypedDict):
    name: str
    email: str
    phone: str


class ErpCustomerUpsert(TypedDict):
    """Create the ERP customer of a customer in a legal entity (billing: every field but
    ``external_id``, which it carries to match a known customer instead of creating one), or
    update a known one (mdm: ``external_id`` and the fields that changed, on the ERP's wire
    names, ERP_WIRE). ``legal_entity`` is null only for a customer-level change to an ERP
    customer no billing profile names."""

    throughline_id: str
    legal_entity: str | None
    external_id: NotRequired[str]
    name: NotRequired[str]
    legal_name: NotRequired[str]
    crm_account_id: NotRequired[str]
    currency: NotRequired[str]
    payment_terms: NotRequired[str]
    tax_jurisdiction: NotRequired[str]
    tax_id: NotRequired[str]
    website: NotRequired[str]
    phone: NotRequired[str]
    parent_customer_id: NotRequired[str | None]
    bill_to: NotRequired[BillTo]
    billing_contact: NotRequired[BillingContact]


class ErpCustomerMerge(TypedDict):
    """Merge ``merged_external_ids`` into the surviving ERP customer ``external_id`` (of
    ``legal_entity``: null when no billing profile names it)."""

    external_id: str
    merged_external_ids: list[str]
    throughline_id: str
    merged_throughline_id: str
    legal_entity: str | None


class ErpTimeEntryRecord(TypedDict):
    """One approval of a PSA time entry (a correction is a new record). ``legal_entity`` is
    the project's, null while the project is unknown to Throughline."""

    time_entry_id: str
    project_id: str
    phase_code: str
    person_email: str
    role: str
    work_date: str
    hours: str
    billable: bool
    legal_entity: str | None


class ErpInvoiceLine(TypedDict):
    line_id: str
    kind: LineKind
    description: str
    role: NotRequired[str]
    hours: str | None
    rate: str | None
    amount: str


class ErpInvoiceCreate(TypedDict):
    """An approved invoice; amounts in ``currency`` with its decimals (``"92.588"`` KWD).
    ``customer_id`` is Throughline's; ``erp_customer_id`` the ERP's for this legal entity
    (null until the ERP has answered the customer's upsert)."""

    invoice_id: str
    customer_id: str
    customer_throughline_id: NotRequired[str]
    erp_customer_id: NotRequired[str | None]
    legal_entity: str
    currency: str
    tax_jurisdiction: str
    invoice_date: str
    period: str
    net_total: str
    tax_total: str
    gross_total: str
    lines: list[ErpInvoiceLine]


CUSTOMER_TEXT = (
    "name",
    "legal_name",
    "crm_account_id",
    "payment_terms",
    "tax_jurisdiction",
    "tax_id",
    "website",
    "phone",
)
CUSTOMER_UPSERT = obj(
    {"throughline_id": ID, "legal_entity": nullable(ID)},
    {
        "external_id": ID,
        **dict.fromkeys(CUSTOMER_TEXT, TEXT),
        "currency": blank_or(CURRENCY),
        "parent_customer_id": nullable(ID),
        "bill_to": obj(
            dict.fromkeys(("line1", "line2", "city", "region", "postal_code", "country"), TEXT)
        ),
        "billing_contact": obj({"name": TEXT, "email": TEXT, "phone": TEXT}),
    },
)
CUSTOMER_MERGE = obj(
    {
        "external_id": ID,
        "merged_external_ids": {"type": "array", "items": ID},
        "throughline_id": ID,
        "merged_throughline_id": ID,
        "legal_entity": nullable(ID),
    }
)
TIME_ENTRY_RECORD = obj(
    {
        "time_entry_id": ID,
        "project_id": ID,
        "phase_code": ID,
        "person_email": EMAIL,
        "role": ID,
        "work_date": DATE,
        "hours": HOURS,
        "billable": {"type": "boolean"},
        "legal_entity": nullable(ID),
    }
)
INVOICE_LINE = obj(
    {
        "line_id": ID,
        "kind": {"enum": list(get_args(LineKind))},
        "description": TEXT,
        "hours": nullable(LINE_HOURS),
        "rate": nullable(RATE),
        "amount": MONEY,
    },
    {"role": TEXT},
)
INVOICE_CREATE = obj(
    {
        "invoice_id": ID,
        "customer_id": ID,
        "legal_entity": ID,
        "currency": CURRENCY,
        "tax_jurisdiction": ID,
        "invoice_date": DATE,
        "period": PERIOD,
        "net_total": MONEY,
        "tax_total": MONEY,
        "gross_total": MONEY,
        "lines": {"type": "array", "items": INVOICE_LINE},
    },
    {"customer_throughline_id": ID, "erp_customer_id": nullable(ID)},
)

OPERATIONS = (
    Operation(
        name="erp.customer.upsert",
        port="erp",
        description="create or update the ERP customer",
        payload=ErpCustomerUpsert,
        schema=CUSTOMER_UPSERT,
        creates=True,
    ),
    Operation(
        name="erp.customer.merge",
        port="erp",
        description="merge duplicate ERP customers into the surviving one (mdm)",
        payload=ErpCustomerMerge,
        schema=CUSTOMER_MERGE,
        creates=False,
    ),
    Operation(
        name="erp.time_entry.record",
        port="erp",
        description="record approved time on the ERP project (costing)",
        payload=ErpTimeEntryRecord,
        schema=TIME_ENTRY_RECORD,
        creates=True,
    ),
    Operation(
        name="erp.invoice.create",
        port="erp",
        description="create the invoice from an approved draft",
        payload=ErpInvoiceCreate,
        schema=INVOICE_CREATE,
        creates=True,
    ),
    event_publish("erp"),
)
