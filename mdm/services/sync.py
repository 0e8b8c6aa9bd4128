"""Reference sync: pull customers changed since the last run from a CRM or ERP that cannot send
webhooks, and apply them exactly as their events would be (ownership, echoes, propagation)."""

import logging

from django.db import transaction
from django.utils import timezone

from config.errors import DomainError
from integrations.connectors import ConnectorError
from integrations.models import ExternalSystem, SyncRun
from integrations.services.connectors import connector_for
from integrations.services.traces import current_or_new_trace_id, record_trace_step, use_trace
from mdm.services.customers import apply_crm_account
from mdm.services.erp_customers import apply_erp_customer

logger = logging.getLogger(__name__)
SYNC_KIND = "mdm.customers"
# Per system kind: the object type to list, the id field of its event, and the apply service.
SOURCES = {
    "crm": ("account", "account_id", apply_crm_account),
    "erp": ("customer", "customer_id", apply_erp_customer),
}


def list_systems_to_sync() -> list[ExternalSystem]:
    """Active CRM/ERP systems flagged ``settings["reference_sync"] = true`` (those that
    cannot send webhooks; the others tell us themselves)."""
    return [
        system
        for system in ExternalSystem.objects.filter(is_active=True, kind__in=list(SOURCES))
        if (system.settings or {}).get("reference_sync")
    ]


def sync_reference_data(*, system_id: int) -> SyncRun:
    """One run for one system. Each record applies in its own transaction, so one bad record
    is counted and named in ``errors`` without undoing the others. Idempotent: a record read
    twice is an echo and changes nothing."""
    system = ExternalSystem.objects.get(pk=system_id)
    object_type, id_field, apply = SOURCES[system.kind]
    last = (
        SyncRun.objects.filter(system=system, kind=SYNC_KIND, status=SyncRun.Status.FINISHED)
        .order_by("-started_at")
        .first()
    )
    with use_trace(current_or_new_trace_id()) as trace_id:
        run = SyncRun.objects.create(
            system=system,
            kind=SYNC_KIND,
            since=last.started_at if last else None,
            trace_id=trace_id,
        )
        try:
            records = connector_for(system).fetch_changed(object_type, run.since)
        except ConnectorError as exc:
            return _finish(run, status=SyncRun.Status.FAILED, errors=[str(exc)])
        errors = []
        for record in records:
            run.read_count += 1
            data = {id_field: record["external_id"], **record}
            try:
                with transaction.atomic():
                    result = apply(system=system, data=data)
            except (DomainError, KeyError, ValueError) as exc:
                run.failed_count += 1
                errors.append(f"{record['external_id']}: {type(exc).__name__}: {exc}"[:300])
                logger.warning(
                    "mdm.sync.record_failed", extra={"system": system.slug}, exc_info=True
                )
                continue
            if result.created or result.changed:
                run.changed_count += 1
        return _finish(run, status=SyncRun.Status.FINISHED, errors=errors)


def _finish(run: SyncRun, *, status: str, errors: list[str]) -> SyncRun:
    run.status, run.errors, run.finished_at = status, errors, timezone.now()
    run.save()
    record_trace_step(
        kind="note",
        action=f"sync_{status}",
        summary=f"{run.system.slug} customers: read {run.read_count}, changed {run.changed_count}, "
        f"failed {run.failed_count}",
    )
    return run
