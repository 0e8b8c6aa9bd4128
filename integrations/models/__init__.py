from integrations.models.crm_fields import ApiUsage, FieldMapping
from integrations.models.inbox import InboundEvent, RejectedDelivery, SourceObjectState
from integrations.models.outbox import DeliveryAttempt, OutboxMessage, SyncRun
from integrations.models.sandbox import SandboxCall, SandboxRecord
from integrations.models.systems import (
    CircuitBreaker,
    ExternalRef,
    ExternalSystem,
    WebhookSecret,
    WebhookSecretUnreadable,
    new_webhook_secret,
)
from integrations.models.tokens import ApiToken
from integrations.models.traces import TraceStep

__all__ = [
    "ApiToken",
    "ApiUsage",
    "CircuitBreaker",
    "DeliveryAttempt",
    "ExternalRef",
    "ExternalSystem",
    "FieldMapping",
    "InboundEvent",
    "OutboxMessage",
    "RejectedDelivery",
    "SandboxCall",
    "SandboxRecord",
    "SourceObjectState",
    "SyncRun",
    "TraceStep",
    "WebhookSecret",
    "WebhookSecretUnreadable",
    "new_webhook_secret",
]
