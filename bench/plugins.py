"""Loaded into the bench's end-to-end worker (``celery worker --include bench.plugins``): the
approval handler becomes a runtime-only one, one ERP effect per approval written in the event's
transaction, so (b) measures the integration runtime (inbox task, ordering lock, outbox
message, dispatch task, breaker, sandbox ERP, attempts, traces) and not billing's rating rules,
which change with billing's own work and are not part of issue 4's target."""

from celery.signals import worker_process_init

# erp.time_entry.record's schema (integrations/connectors/operations/erp.py): the connector
# refuses a payload without them.
TIME_RECORD_KEYS = ("time_entry_id", "project_id", "phase_code", "person_email", "role")
TIME_RECORD_KEYS += ("work_date", "hours", "billable")


def record_on_erp(event) -> None:
    from integrations.services.outbox import enqueue_outbox_message
    from integrations.services.systems import get_system_for_kind

    data = event.payload["data"]
    entry_id = data["time_entry_id"]
    enqueue_outbox_message(
        system=get_system_for_kind("erp"),  # as billing's handlers find the ERP
        kind="erp.time_entry.record",
        payload={**{name: data[name] for name in TIME_RECORD_KEYS}, "legal_entity": None},
        idempotency_key=f"erp.time_entry.record:{entry_id}:{data['approved_at']}",
        object_key=f"time_entry:{entry_id}",
    )


@worker_process_init.connect
def _install(**kwargs) -> None:
    from integrations.registry import inbox_handlers

    inbox_handlers._items["psa.time_entry.approved"] = record_on_erp
