"""Tryton (ERP and PSA): a JSON-RPC client (``client.py``), its typed errors (``errors.py``)
and a harness that runs a real Tryton for the tests and ``make tryton`` (``server.py``)."""

from integrations.connectors.tryton.client import TrytonClient, TrytonModel, get_id
from integrations.connectors.tryton.errors import (
    TrytonConcurrencyError,
    TrytonServerError,
    TrytonUserError,
    TrytonUserWarning,
)

__all__ = [
    "TrytonClient",
    "TrytonConcurrencyError",
    "TrytonModel",
    "TrytonServerError",
    "TrytonUserError",
    "TrytonUserWarning",
    "get_id",
]
