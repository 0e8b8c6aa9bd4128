"""Connector ports and typed errors.

Every outbound effect is an *operation* (``erp.customer.upsert``, ``psa.project.create`` …)
with a canonical JSON payload. A connector maps operations of its system kind to the
platform's API and raises one of the errors below, which decide what the outbox does:

| error | outbox | breaker |
|---|---|---|
| RetryableError (timeout, 5xx, connection lost) | retry with backoff and jitter | counts as a failure |
| RateLimited (429 + Retry-After) | retry no earlier than Retry-After | not a failure |
| RateLimited(pause_system=True) (a spent quota) | as above | opened until Retry-After |
| PermanentError (4xx, mapping error) | dead at once, with the reason | not a failure |
| AuthError (401/403) | dead at once, with the reason | not a failure |

A payload that does not match its operation's schema is a PermanentError before any call.
"""

from dataclasses import dataclass, field
from typing import Any, ClassVar

from config.registry import Registry
from integrations.connectors.operations import OPERATIONS, operations_of, validate_operation
from integrations.connectors.pull import Changes
from integrations.connectors.readback import ReadInvoice


class ConnectorError(Exception):
    outcome = "retryable"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class RetryableError(ConnectorError):
    outcome = "retryable"


class RateLimited(ConnectorError):
    """``pause_system``: the peer's quota for the whole system is spent (Salesforce's daily
    API requests), not this call's: the breaker opens for ``retry_after`` so no other message
    calls it meanwhile (integrations/services/breakers.py ``pause``)."""

    outcome = "rate_limited"

    def __init__(self, message: str, *, retry_after: float, pause_system: bool = False) -> None:
        super().__init__(message)
        self.retry_after = retry_after
        self.pause_system = pause_system


class PermanentError(ConnectorError):
    outcome = "permanent"


class AuthError(ConnectorError):
    outcome = "auth"


@dataclass(frozen=True)
class DeliveryResult:
    external_id: str = ""
    data: dict[str, Any] = field(default_factory=dict)


# The operations of each port (kind): what Throughline can ask of a CRM, a PSA or an ERP
# (name → description), derived from the typed operations (integrations/connectors/operations).
PORTS: dict[str, dict[str, str]] = {
    port: {name: OPERATIONS[name].description for name in operations_of(port)}
    for port in dict.fromkeys(operation.port for operation in OPERATIONS.values())
}


def schema_error_message(operation: str, errors: dict[str, list[str]]) -> str:
    """``"<operation> payload does not match its schema: <field>: <message>; …"``."""
    reasons = "; ".join(
        f"{path}: {message}" for path, messages in errors.items() for message in messages
    )
    return f"{operation} payload does not match its schema: {reasons}"


class Connector:
    """Base class: ``deliver`` checks the operation belongs to the system's port and its payload
    matches the operation's schema, then calls ``call``. Subclasses implement ``call`` (and may
    override ``fetch_changed`` for syncs); the payload they get is the operation's TypedDict
    (integrations/connectors/operations)."""

    name: ClassVar[str] = ""
    # The streams a system of each kind can be polled for ({"erp": ("invoices",)}): none here.
    pull_streams: ClassVar[dict[str, tuple[str, ...]]] = {}

    # True: the runtime passes the system's FieldMapping rows as ``field_mappings``.
    reads_field_mappings: ClassVar[bool] = False

    def __init__(self, system, *, credentials: dict[str, str] | None = None) -> None:
        self.system = system
        # Decrypted by the runtime (integrations/services/connectors.py): a connector never
        # reads secrets itself.
        self.credentials = credentials or {}
        # (used, allowed) of the peer's API quota as its last answer said (Salesforce's
        # Sforce-Limit-Info); the runtime keeps it (integrations/services/api_usage.py).
        self.api_usage: tuple[int, int] | None = None

    def deliver(self, operation: str, payload: dict, *, idempotency_key: str) -> DeliveryResult:
        if operation not in PORTS.get(self.system.kind, {}):
            raise PermanentError(f"{operation} is not an operation of a {self.system.kind} system")
        errors = validate_operation(operation, payload)
        if errors:
            # Dead at once, with the reason: fix the code that built it, then replay.
            raise PermanentError(schema_error_message(operation, errors))
        return self.call(operation, payload, idempotency_key=idempotency_key)

    def call(self, operation: str, payload: dict, *, idempotency_key: str) -> DeliveryResult:
        raise NotImplementedError

    def fetch_changed(self, object_type: str, since) -> list[dict]:
        """Objects of ``object_type`` changed since ``since`` (for systems without webhooks)."""
        raise PermanentError(f"{self.name} connector cannot list {object_type}")

    def fetch_changes(self, stream: str, since: str | None) -> Changes:
        """The pull port (integrations/connectors/pull.py): the canonical events of ``stream``
        since the cursor ``since``, for a connector naming it in ``pull_streams``."""
        raise PermanentError(f"{self.name} connector cannot be polled for {stream}")

    def read_invoices(self, ids: list[str]) -> dict[str, ReadInvoice]:
        """The ERP read-back port (integrations/connectors/readback.py): the invoices of
        ``ids`` (the ERP's own ids) as the ERP has them now; an id it lacks is absent."""
        raise PermanentError(f"{self.name} connector cannot read invoices back")

    def read_invoice_statuses(self, invoice_ids: list[str]) -> dict[str, str]:
        """The CRM read-back port: the status the CRM shows for each of our invoice ids, in
        the contract's words; an invoice the CRM has no record of is absent."""
        raise PermanentError(f"{self.name} connector cannot read invoice statuses back")


connector_classes: Registry[str, type[Connector]] = Registry("connectors")


def get_connector(
    system, *, credentials: dict[str, str] | None = None, field_mappings=None
) -> Connector:
    cls = connector_classes.get(system.connector)
    if cls is None:
        raise PermanentError(f"no connector {system.connector!r} is installed")
    if cls.reads_field_mappings:
        return cls(system, credentials=credentials, field_mappings=field_mappings or ())  # type: ignore[call-arg]
    return cls(system, credentials=credentials)
