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


@pytest.fixture
def dead_message(systems):
    """A real dead letter: the sandbox ERP refuses the operation permanently (422)."""
    from integrations.services.outbox import dispatch_outbox_message, enqueue_outbox_message

    erp = systems["erp"][0]
    erp.settings = {"sandbox": {"permanent_operations": ["erp.time_entry.record"]}}
    erp.save()
    with transaction.atomic():
        message = enqueue_outbox_message(
            system=erp,
            kind="erp.time_entry.record",
            payload={
                "time_entry_id": "TE-77",
                "project_id": "PRJ-100",
                "phase_code": "DISC",
                "person_email": "ana@acme.example",
                "role": "consultant",
                "work_date": "2026-11-02",
                "hours": "7.50",
                "billable": True,
                "legal_entity": None,
            },
            idempotency_key="erp.time_entry.record:TE-77",
            object_key="timesheet:TE-77",
        )
    dispatch_outbox_message(message_id=message.pk)
    message.refresh_from_db()
    assert message.status == "dead"
    return message
