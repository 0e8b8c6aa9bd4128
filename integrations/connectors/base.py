"""Connector ports and typed errors.

Every outbound effect is an *operation* (``erp.customer.upsert``, ``psa.project.create`` …)
with a canonical JSON payload. A connector maps operations of its system kind to the
platform's API and raises one of the errors below, which decide what the outbox does:

| error | outbox | breaker |
|---|---|---|
| RetryableError (timeout, 5xx, connection lost) | retry with backoff and jitter | counts as a failure |
| RateLimited (429 + Retry-After) | retry no earlier than Retry-After | not a failure |
| PermanentError (4xx, mapping error) | dead at once, with the reason | not a failure |
| AuthError (401/403) | dead at once, with the reason | not a failure |
"""

from dataclasses import dataclass, field
from typing import Any, ClassVar

from config.registry import Registry


class ConnectorError(Exception):
    outcome = "retryable"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class RetryableError(ConnectorError):
    outcome = "retryable"


class RateLimited(ConnectorError):
    outcome = "rate_limited"

    def __init__(self, message: str, *, retry_after: float) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class PermanentError(ConnectorError):
    outcome = "permanent"


class AuthError(ConnectorError):
    outcome = "auth"


@dataclass(frozen=True)
class DeliveryResult:
    external_id: str = ""
    data: dict[str, Any] = field(default_factory=dict)


# The operations of each port (kind): what Throughline can ask of a CRM, a PSA or an ERP.
PORTS: dict[str, dict[str, str]] = {
    "crm": {
        "crm.account.update": "write CRM-owned or ERP-owned fields back to the CRM account",
        "crm.account.merge": "merge duplicate CRM accounts into the surviving one (mdm)",
        "crm.invoice_status.update": "show an invoice's status on the CRM account/opportunity",
        "crm.event.publish": "publish a Throughline event to the CRM",
    },
    "psa": {
        "psa.project.create": "create (or match) the project with its phases",
        "psa.event.publish": "publish a Throughline event to the PSA",
    },
    "erp": {
        "erp.customer.upsert": "create or update the ERP customer",
        "erp.customer.merge": "merge duplicate ERP customers into the surviving one (mdm)",
        "erp.time_entry.record": "record approved time on the ERP project (costing)",
        "erp.invoice.create": "create the invoice from an approved draft",
        "erp.event.publish": "publish a Throughline event to the ERP",
    },
}


class Connector:
    """Base class: ``deliver`` checks the operation belongs to the system's port, then calls
    ``call``. Subclasses implement ``call`` (and may override ``fetch_changed`` for syncs)."""

    name: ClassVar[str] = ""

    def __init__(self, system) -> None:
        self.system = system

    def deliver(self, operation: str, payload: dict, *, idempotency_key: str) -> DeliveryResult:
        if operation not in PORTS.get(self.system.kind, {}):
            raise PermanentError(f"{operation} is not an operation of a {self.system.kind} system")
        return self.call(operation, payload, idempotency_key=idempotency_key)

    def call(self, operation: str, payload: dict, *, idempotency_key: str) -> DeliveryResult:
        raise NotImplementedError

    def fetch_changed(self, object_type: str, since) -> list[dict]:
        """Objects of ``object_type`` changed since ``since`` (for systems without webhooks)."""
        raise PermanentError(f"{self.name} connector cannot list {object_type}")


connector_classes: Registry[str, type[Connector]] = Registry("connectors")


def get_connector(system) -> Connector:
    cls = connector_classes.get(system.connector)
    if cls is None:
        raise PermanentError(f"no connector {system.connector!r} is installed")
    return cls(system)
