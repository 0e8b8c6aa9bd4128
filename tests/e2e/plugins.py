"""Loaded into the reliability tests' workers only (``celery worker --include
tests.e2e.plugins``); nothing here is imported by the product or by other workers.

- A runtime-only handler of ``psa.time_entry.approved``: one ERP effect
  (``erp.time_entry.record``) per approval, written in the event's transaction as a workflow
  would. The reliability invariants (one inbound event and one effect per id, breaker, rescue)
  are the runtime's; billing's own rules for time (rating, holds, exception items) are tested by
  billing's tests and by test_time_entry_flow.py, and cannot make these tests flaky.
- Poison pills: an approval whose notes say so kills its worker process or always raises in
  the handler; an ERP call for a ``POISON-KILL`` entry kills the process that makes it.
"""

import os
import signal

from celery.signals import worker_process_init

KILL_NOTES = "poison: kill the worker"
RAISE_NOTES = "poison: always raise"
KILL_ENTRY_PREFIX = "POISON-KILL"
TIME_RECORD_KEYS = ("time_entry_id", "project_id", "phase_code", "person_email", "role")
TIME_RECORD_KEYS += ("work_date", "hours", "billable")


def record_on_erp(event) -> None:
    from integrations.models import ExternalSystem
    from integrations.services.outbox import enqueue_outbox_message

    data = event.payload["data"]
    if data.get("notes") == KILL_NOTES:
        os.kill(os.getpid(), signal.SIGKILL)
    if data.get("notes") == RAISE_NOTES:
        raise RuntimeError("poison: this handler always raises")
    entry_id = data["time_entry_id"]
    enqueue_outbox_message(
        system=ExternalSystem.objects.get(slug="erp"),
        kind="erp.time_entry.record",
        payload={  # as erp.time_entry.record's schema has it (integrations/connectors/operations)
            **{name: data[name] for name in TIME_RECORD_KEYS},
            "legal_entity": None,
        },
        idempotency_key=f"erp.time_entry.record:{entry_id}:{data['approved_at']}",
        object_key=f"time_entry:{entry_id}",
    )


@worker_process_init.connect
def _install(**kwargs) -> None:
    from integrations.connectors.sandbox import SandboxConnector
    from integrations.registry import inbox_handlers

    inbox_handlers._items["psa.time_entry.approved"] = record_on_erp

    call = SandboxConnector.call

    def poisoned_call(self, operation, payload, *, idempotency_key):
        if str(payload.get("time_entry_id", "")).startswith(KILL_ENTRY_PREFIX):
            os.kill(os.getpid(), signal.SIGKILL)
        return call(self, operation, payload, idempotency_key=idempotency_key)

    SandboxConnector.call = poisoned_call
