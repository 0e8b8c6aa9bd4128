import pytest
from django.db import transaction

from tests.conftest import make_user


@pytest.fixture
def operations_user(db):
    return make_user("olga", "operations")


@pytest.fixture
def pmo_user(db):
    return make_user("piet", "pmo")


@pytest.fixture
def finance_user(db):
    return make_user("fiona", "finance")


def make_dead_message(erp, time_entry_id: str = "TE-77"):
    """A real dead letter on ``erp``: its sandbox refuses the operation permanently (422)."""
    from integrations.services.outbox import dispatch_outbox_message, enqueue_outbox_message

    erp.settings = {"sandbox": {"permanent_operations": ["erp.time_entry.record"]}}
    erp.save()
    with transaction.atomic():
        message = enqueue_outbox_message(
            system=erp,
            kind="erp.time_entry.record",
            payload={
                "time_entry_id": time_entry_id,
                "project_id": "PRJ-100",
                "phase_code": "DISC",
                "person_email": "ana@acme.example",
                "role": "consultant",
                "work_date": "2026-11-02",
                "hours": "7.50",
                "billable": True,
                "legal_entity": None,
            },
            idempotency_key=f"erp.time_entry.record:{time_entry_id}",
            object_key=f"timesheet:{time_entry_id}",
        )
    dispatch_outbox_message(message_id=message.pk)
    message.refresh_from_db()
    assert message.status == "dead"
    return message


@pytest.fixture
def dead_message(systems):
    """A real dead letter: the sandbox ERP refuses the operation permanently (422)."""
    return make_dead_message(systems["erp"][0])
