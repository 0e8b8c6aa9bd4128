"""Simulated CRM, PSA and ERP: they keep what they receive in their own tables (SandboxRecord),
answer a repeated idempotency key with the first result, and inject faults set in the system's
``settings["sandbox"]`` (admin or ``manage.py sandbox``):

``latency_ms``, ``error_rate`` (0-1, answered as a 503), ``timeout_rate``, ``outage_until``
(ISO time: every call fails until then), ``rate_limit_rate`` with ``retry_after`` (seconds),
``permanent_operations`` (list: answered 422), ``auth_failure`` (bool: answered 401),
``answer_lost_rate`` (the effect is stored, then the answer is lost).

Read back (integrations/connectors/readback.py), a sandbox answers from its records: an ERP's
invoices are its ``erp.invoice.create`` records (totals as stored: edit a record's data to make
the ERP disagree, delete it to lose the invoice; a ``number`` or ``state`` key in the data is
answered too, else none: the sandbox keeps no states), a CRM's status of an invoice is the
status of its latest ``crm.invoice_status.update`` record. Faults apply to reads as to calls.
"""

import hashlib
import random
import time
from decimal import Decimal, InvalidOperation

from django.utils import timezone
from django.utils.dateparse import parse_datetime

from integrations.connectors.base import (
    AuthError,
    Connector,
    DeliveryResult,
    PermanentError,
    RateLimited,
    RetryableError,
)
from integrations.connectors.readback import READ_CRM_STATUSES, READ_ERP_INVOICES, ReadInvoice
from integrations.models import SandboxCall, SandboxRecord
from integrations.models.rows import insert_if_new

_rng = random.SystemRandom()


class SandboxConnector(Connector):
    name = "sandbox"

    @property
    def faults(self) -> dict:
        return (self.system.settings or {}).get("sandbox", {})

    def call(self, operation: str, payload: dict, *, idempotency_key: str) -> DeliveryResult:
        try:
            self._inject_faults(operation)
        except Exception as exc:
            SandboxCall.objects.create(
                system=self.system,
                operation=operation,
                idempotency_key=idempotency_key,
                outcome=type(exc).__name__,
            )
            raise
        record, created = self._store(operation, payload, idempotency_key)
        SandboxCall.objects.create(
            system=self.system,
            operation=operation,
            idempotency_key=idempotency_key,
            outcome="created" if created else "repeat",
        )
        if created and _rng.random() < float(self.faults.get("answer_lost_rate", 0)):
            raise RetryableError(
                "connection reset after the peer committed (sandbox answer_lost_rate)"
            )
        return DeliveryResult(external_id=record.external_id, data={"sandbox_record": record.pk})

    def _inject_faults(self, operation: str) -> None:
        faults = self.faults
        latency_ms = int(faults.get("latency_ms", 0))
        if latency_ms:
            time.sleep(min(latency_ms, 10_000) / 1000)
        outage_until = parse_datetime(faults.get("outage_until") or "")
        if outage_until and timezone.now() < outage_until:
            raise RetryableError("503 Service Unavailable (sandbox outage)")
        if faults.get("auth_failure"):
            raise AuthError("401 Unauthorized (sandbox auth_failure)")
        if operation in faults.get("permanent_operations", []):
            raise PermanentError(f"422 Unprocessable Entity: {operation} refused (sandbox)")
        if _rng.random() < float(faults.get("rate_limit_rate", 0)):
            raise RateLimited(
                "429 Too Many Requests (sandbox)", retry_after=float(faults.get("retry_after", 5))
            )
        if _rng.random() < float(faults.get("timeout_rate", 0)):
            raise RetryableError("timed out waiting for the peer (sandbox)")
        if _rng.random() < float(faults.get("error_rate", 0)):
            raise RetryableError("503 Service Unavailable (sandbox error_rate)")

    def _store(self, operation: str, payload: dict, idempotency_key: str):
        object_type = operation.split(".")[1]
        external_id = payload.get("external_id") or (
            f"{object_type[:3].upper()}-" + hashlib.sha1(idempotency_key.encode()).hexdigest()[:10]  # noqa: S324 not security
        )
        record = SandboxRecord(
            system=self.system,
            operation=operation,
            object_type=object_type,
            external_id=external_id,
            idempotency_key=idempotency_key,
            data=payload,
        )
        # Insert unless the key is there (one statement, no error, the caller's transaction
        # intact): the unique (system, idempotency key) keeps the first result of a repeat.
        if not insert_if_new(record):
            return SandboxRecord.objects.get(
                system=self.system, idempotency_key=idempotency_key
            ), False
        return record, True

    def fetch_changed(self, object_type: str, since) -> list[dict]:
        records = SandboxRecord.objects.filter(system=self.system, object_type=object_type)
        if since:
            records = records.filter(created_at__gt=since)
        latest: dict[str, dict] = {}
        for record in records.order_by("created_at", "id"):
            latest[record.external_id] = {"external_id": record.external_id, **record.data}
        return list(latest.values())

    def read_invoices(self, ids: list[str]) -> dict[str, ReadInvoice]:
        self._read(READ_ERP_INVOICES, kind="erp")
        records = SandboxRecord.objects.filter(
            system=self.system, operation="erp.invoice.create", external_id__in=list(ids)
        ).order_by("created_at", "id")
        return {record.external_id: _invoice_of(record) for record in records}

    def read_invoice_statuses(self, invoice_ids: list[str]) -> dict[str, str]:
        self._read(READ_CRM_STATUSES, kind="crm")
        records = SandboxRecord.objects.filter(
            system=self.system,
            operation="crm.invoice_status.update",
            data__invoice_id__in=[str(invoice_id) for invoice_id in invoice_ids],
        ).order_by("created_at", "id")
        # In the order they were received: the latest status of each invoice wins.
        return {str(r.data["invoice_id"]): str(r.data.get("status") or "") for r in records}

    def _read(self, operation: str, *, kind: str) -> None:
        if self.system.kind != kind:
            raise PermanentError(f"a sandbox {self.system.kind} cannot answer {operation}")
        try:
            self._inject_faults(operation)
        except Exception as exc:
            SandboxCall.objects.create(
                system=self.system, operation=operation, outcome=type(exc).__name__
            )
            raise
        SandboxCall.objects.create(system=self.system, operation=operation, outcome="read")


def _invoice_of(record: SandboxRecord) -> ReadInvoice:
    data = record.data or {}

    def amount(name: str) -> Decimal:
        try:
            return Decimal(str(data.get(name)))
        except InvalidOperation as exc:  # a record edited by hand: the peer's data is wrong
            raise PermanentError(
                f"sandbox invoice {record.external_id}: {name} {data.get(name)!r} is not an amount"
            ) from exc

    return ReadInvoice(
        erp_invoice_id=record.external_id,
        number=str(data.get("number") or ""),
        state=str(data.get("state") or ""),
        net_total=amount("net_total"),
        tax_total=amount("tax_total"),
        gross_total=amount("gross_total"),
        currency=str(data.get("currency") or ""),
    )
