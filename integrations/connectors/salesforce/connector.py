"""The Salesforce connector: the CRM port over the REST API, and Change Data Capture as pull
streams, and the invoice statuses read back for the reconciliation (``reads.py``). Outbound
Messages arrive at their own endpoint (integrations/services/inbox/outbound_messages.py) and
use the same mapping (``mapping.py``)."""

from typing import ClassVar

from integrations.connectors.base import Connector, DeliveryResult, PermanentError
from integrations.connectors.pull import Changes
from integrations.connectors.salesforce import cdc, mapping, reads, writes
from integrations.connectors.salesforce.client import SalesforceClient


class SalesforceConnector(Connector):
    name = "salesforce"
    pull_streams: ClassVar[dict[str, tuple[str, ...]]] = {"crm": tuple(cdc.STREAMS)}
    # The runtime hands the system's FieldMapping rows to the constructor.
    reads_field_mappings: ClassVar[bool] = True

    def __init__(self, system, *, credentials=None, field_mappings=()) -> None:
        super().__init__(system, credentials=credentials)
        self.rules = mapping.with_rows(field_mappings)

    def _client(self) -> SalesforceClient:
        return SalesforceClient(self.system, self.credentials)

    def call(self, operation: str, payload: dict, *, idempotency_key: str) -> DeliveryResult:
        handler = writes.OPERATIONS.get(operation)
        if handler is None:
            raise PermanentError(f"the Salesforce connector does not do {operation}")
        client = self._client()
        try:
            return handler(client, self.rules, payload, idempotency_key)
        finally:
            self._keep_usage(client)

    def fetch_changes(self, stream: str, since: str | None) -> Changes:
        if stream not in cdc.STREAMS:
            raise PermanentError(f"Salesforce has no {stream} stream to poll")
        client = self._client()
        try:
            return cdc.fetch_changes(client, self.rules, stream, since)
        finally:
            self._keep_usage(client)

    def read_invoice_statuses(self, invoice_ids: list[str]) -> dict[str, str]:
        if not invoice_ids:
            return {}
        client = self._client()
        try:
            return reads.read_invoice_statuses(client, self.rules, list(invoice_ids))
        finally:
            self._keep_usage(client)

    def _keep_usage(self, client: SalesforceClient) -> None:
        if client.usage is not None:
            self.api_usage = (client.usage.used, client.usage.allowed)
