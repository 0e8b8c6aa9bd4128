"""Reading records back from a peer (the read-back port, integrations/connectors/readback.py)
for a control that compares both sides: the system's connector with its credentials, through
its circuit breaker, outside any transaction.

A read never raises a connector error to its caller: the answer is a :class:`ReadBack` whose
``found`` is None and whose ``error`` says why when the peer could not be read (an open
breaker, a timeout, a refusal, a connector without the port), so the caller reports "not
checked" instead of a mismatch. Timeouts and 5xx count against the breaker, as deliveries do.
"""

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

from django.utils import timezone

from integrations.connectors import Connector, ConnectorError, RetryableError
from integrations.connectors.readback import ReadInvoice
from integrations.models import ExternalSystem
from integrations.services import breakers
from integrations.services.api_usage import keep_api_usage
from integrations.services.connectors import connector_for

logger = logging.getLogger(__name__)
T = TypeVar("T")


@dataclass(frozen=True)
class ReadBack(Generic[T]):
    """What one system answered: ``found`` by id (None when it could not be read, ``error``
    then says why in words); ``asked`` how many ids were asked for."""

    system: str
    found: dict[str, T] | None
    asked: int = 0
    error: str = ""

    @property
    def was_read(self) -> bool:
        return self.found is not None


def read_back_invoices(
    *, system: ExternalSystem, erp_invoice_ids: list[str]
) -> ReadBack[ReadInvoice]:
    """The invoices of ``erp_invoice_ids`` as ``system`` (an ERP) has them now. Call it outside
    any transaction (a peer call would hold it open); idempotent (reads only)."""
    return _read(system, erp_invoice_ids, lambda c, ids: c.read_invoices(ids), "invoices")


def read_back_invoice_statuses(*, system: ExternalSystem, invoice_ids: list[str]) -> ReadBack[str]:
    """The status ``system`` (a CRM) shows for each of ``invoice_ids`` (ours). As above."""
    return _read(
        system, invoice_ids, lambda c, ids: c.read_invoice_statuses(ids), "invoice statuses"
    )


def _read(
    system: ExternalSystem,
    ids: list[str],
    read: Callable[[Connector, list[str]], dict[str, T]],
    what: str,
) -> ReadBack[T]:
    wanted = sorted(set(ids))
    if not wanted:
        return ReadBack(system=system.slug, found={})
    permit = breakers.acquire_permit(system_id=system.pk)
    if not permit.allowed:
        until = timezone.localtime(permit.retry_at).strftime("%H:%M") if permit.retry_at else ""
        reason = f"{system.slug} is not called while its breaker is open" + (
            f" (until {until})" if until else ""
        )
        return ReadBack(system=system.slug, found=None, asked=len(wanted), error=reason)
    connector = None
    try:
        connector = connector_for(system)
        found = read(connector, wanted)
    except RetryableError as exc:
        breakers.record_failure(system_id=system.pk, error=exc.message)
        return _unread(system, wanted, what, exc)
    except ConnectorError as exc:  # an answer from a healthy peer: not a breaker failure
        if permit.is_probe:
            breakers.record_success(system_id=system.pk)
        return _unread(system, wanted, what, exc)
    finally:
        if connector is not None:
            keep_api_usage(system, connector)
    breakers.record_success(system_id=system.pk)
    return ReadBack(system=system.slug, found=found, asked=len(wanted))


def _unread(
    system: ExternalSystem, wanted: list[str], what: str, exc: ConnectorError
) -> ReadBack[T]:
    logger.warning(
        "integrations.readback_failed",
        extra={"system": system.slug, "what": what, "error_class": type(exc).__name__},
    )
    return ReadBack(
        system=system.slug,
        found=None,
        asked=len(wanted),
        error=f"{system.slug} could not be read ({what}): {exc.message}",
    )


__all__ = [
    "ReadBack",
    "ReadInvoice",
    "read_back_invoice_statuses",
    "read_back_invoices",
]
