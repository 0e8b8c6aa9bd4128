"""System APIs: one connector per platform, raising typed errors the outbox understands."""

from integrations.connectors.base import (
    AuthError,
    Connector,
    ConnectorError,
    DeliveryResult,
    PermanentError,
    RateLimited,
    RetryableError,
    connector_classes,
    get_connector,
)

__all__ = [
    "AuthError",
    "Connector",
    "ConnectorError",
    "DeliveryResult",
    "PermanentError",
    "RateLimited",
    "RetryableError",
    "connector_classes",
    "get_connector",
]
