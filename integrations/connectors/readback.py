"""The read-back port: what a peer holds now of the records Throughline sent it, read on
demand so a control can compare both sides (billing's reconciliation,
docs/finance-controls/reconciliation.md).

- An ERP answers ``Connector.read_invoices(ids)``: for each of *its* invoice ids that
  Throughline holds (``Invoice.erp_invoice_id``), a :class:`ReadInvoice`; an id it does not
  have is absent from the answer.
- A CRM answers ``Connector.read_invoice_statuses(invoice_ids)``: for each of *our* invoice
  ids, the status the CRM shows, in the contract's words (``posted``, ``paid`` …); an invoice
  the CRM has no record of is absent.

Reads are batched (one call for as many ids as the peer takes) and fail with the connectors'
typed errors (integrations/connectors/base.py), like deliveries. They write nothing, on either
side.
"""

from dataclasses import dataclass
from decimal import Decimal

# Names of the reads, as the sandbox records its calls and logs name them (they are not
# outbox operations: nothing is delivered).
READ_ERP_INVOICES = "erp.invoice.read"
READ_CRM_STATUSES = "crm.invoice_status.read"


@dataclass(frozen=True)
class ReadInvoice:
    """One invoice as the ERP has it. ``state`` is the contract's status (``posted``,
    ``partially_paid``, ``paid``, ``void``), the ERP's own word for a state the contract has
    no status for (Tryton's ``draft``), or ``""`` when the ERP keeps none."""

    erp_invoice_id: str
    number: str
    state: str
    net_total: Decimal
    tax_total: Decimal
    gross_total: Decimal
    currency: str
