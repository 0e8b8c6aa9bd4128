"""The typed canonical operations (integrations/connectors/operations): every TypedDict agrees
with its schema, the payloads the real workflows enqueue validate, and a malformed payload
goes dead through the outbox with the schema's words (the connector is never called)."""

import types
from datetime import UTC, datetime, timedelta
from typing import Literal, Union, get_args, get_origin, get_type_hints, is_typeddict

import pytest
from django.core.management import call_command
from django.db import transaction

from billing.models import Invoice, Project
from billing.services.invoice_posting import approve_invoice
from exceptions_queue.models import QueueSubscription
from integrations.connectors.base import PORTS
from integrations.connectors.operations import OPERATIONS, operations_of, validate_operation
from integrations.models import OutboxMessage, SandboxCall
from integrations.services.outbox import (
    dispatch_outbox_message,
    enqueue_outbox_message,
    replay_outbox_message,
)
from mdm.selectors import get_customer_by_crm_account_id
from mdm.services import merge_customers
from tests.conftest import make_user
from tests.factories.billing import closed_won_data, load_reference
from tests.factories.mdm import crm_account, erp_customer
from tests.helpers import drain, envelope, post_event, time_entry_data

BRIEF = {
    "crm": ["crm.account.update", "crm.account.merge", "crm.invoice_status.update"],
    "psa": ["psa.project.create"],
    "erp": ["erp.customer.upsert", "erp.customer.merge", "erp.time_entry.record"],
}
BRIEF["erp"].append("erp.invoice.create")
for _port in BRIEF:
    BRIEF[_port].append(f"{_port}.event.publish")


def test_each_port_has_the_operations_and_ports_derive_from_them():
    assert {port: operations_of(port) for port in BRIEF} == BRIEF
    derived = {
        port: {name: OPERATIONS[name].description for name in names}
        for port, names in BRIEF.items()
    }
    assert derived == PORTS
    creating = {name for name, operation in OPERATIONS.items() if operation.creates}
    assert creating == {
        "psa.project.create",
        "erp.customer.upsert",
        "erp.time_entry.record",
        "erp.invoice.create",
    }


def _typed_dict_in(annotation) -> tuple[type | None, bool]:
    """The TypedDict an annotation holds (``X``, ``X | None``, ``list[X]``) and if in a list."""
    if is_typeddict(annotation):
        return annotation, False
    origin, args = get_origin(annotation), get_args(annotation)
    if origin is list and is_typeddict(args[0]):
        return args[0], True
    if origin in (Union, types.UnionType):
        for arg in args:
            found = _typed_dict_in(arg)
            if found[0] is not None:
                return found
    return None, False


def _not_null(schema: dict) -> dict:
    alternatives = [s for s in schema.get("anyOf", [schema]) if s.get("type") != "null"]
    return alternatives[0]


def _agree(typed: type, schema: dict, path: str) -> None:
    """``typed``'s keys are ``schema``'s, key by key: nullability, enums, nested objects."""
    assert schema["type"] == "object", path
    assert set(schema["required"]) == set(typed.__required_keys__), path
    assert set(schema["properties"]) == set(typed.__annotations__), path
    for key, annotation in get_type_hints(typed).items():
        sub = schema["properties"][key]
        allows_none = type(None) in get_args(annotation)
        assert allows_none == any(s.get("type") == "null" for s in sub.get("anyOf", [])), (
            f"{path}.{key}: nullable in one and not the other"
        )
        if get_origin(annotation) is Literal:
            assert set(get_args(annotation)) == set(sub["enum"]), f"{path}.{key}"
        nested, in_list = _typed_dict_in(annotation)
        if nested is not None:
            sub = _not_null(sub)
            _agree(nested, sub["items"] if in_list else sub, f"{path}.{key}")


@pytest.mark.parametrize("name", sorted(OPERATIONS))
def test_the_typed_payload_and_the_schema_of_each_operation_agree(name):
    operation = OPERATIONS[name]
    assert operation.name == name and name.startswith(f"{operation.port}.")
    assert is_typeddict(operation.payload)
    _agree(operation.payload, operation.schema, name)


def test_field_errors_name_the_path():
    errors = validate_operation(
        "erp.invoice.create",
        {"invoice_id": "1", "lines": [{"line_id": "1", "kind": "gift", "amount": "1.2345"}]},
    )
    assert errors["legal_entity"] == ["This field is required."]
    assert "lines.0.kind" in errors and "lines.0.amount" in errors
    assert validate_operation("erp.nothing", {}) == {
        "operation": ["'erp.nothing' is not an operation of any port"]
    }


def _post(client, systems, slug: str, event_type: str, data: dict, *, minute: int = 0) -> None:
    at = datetime(2026, 11, 1, 9, 0, tzinfo=UTC) + timedelta(minutes=minute)
    body = envelope(event_type, data, timestamp=at)
    response = post_event(client, slug, systems[slug][1], body)
    assert response.status_code == 202, response.content
    drain()


def _deal_to_posted_invoice(client, systems) -> None:
    """A closed-won deal (ERP customer, PSA project, the activation event to every port),
    approved time on it, the month's billing run, the invoice approved and posted."""
    load_reference(subscribe=("crm", "psa", "erp"))
    _post(client, systems, "crm", "crm.opportunity.closed_won", closed_won_data())
    project = Project.objects.get()
    assert project.status == Project.Status.ACTIVE
    entry = time_entry_data(project_id=project.psa_project_id, phase_code="DISC")
    _post(client, systems, "psa", "psa.time_entry.approved", entry, minute=5)
    call_command("billing_run", "--period", "2026-11")
    approve_invoice(invoice_id=Invoice.objects.get().pk, approved_by=make_user("fin", "finance"))
    drain()
    assert Invoice.objects.get().status == Invoice.Status.POSTED


def _customer_master_changes(client, systems) -> None:
    """Two CRM accounts each with its ERP customer (ERP values to the CRM, a CRM rename to the
    ERP, a duplicate item to a subscribed service desk), then merged in both systems."""
    QueueSubscription.objects.create(queue="finance", system=systems["psa"][0])
    for n, (account, customer) in enumerate((("001A", "C-1"), ("001B", "C-2"))):
        _post(client, systems, "crm", "crm.account.upserted", crm_account(account_id=account))
        data = erp_customer(customer_id=customer, crm_account_id=account, payment_terms="NET45")
        _post(client, systems, "erp", "erp.customer.upserted", data, minute=n + 1)
    renamed = crm_account(account_id="001A", name="Northwind Global")
    _post(client, systems, "crm", "crm.account.upserted", renamed, minute=5)
    merge_customers(
        survivor_id=get_customer_by_crm_account_id("001A").pk,
        absorbed_id=get_customer_by_crm_account_id("001B").pk,
    )
    drain()


@pytest.mark.django_db
def test_every_payload_the_workflows_enqueue_validates(client, systems):
    _deal_to_posted_invoice(client, systems)
    _customer_master_changes(client, systems)

    messages = list(OutboxMessage.objects.order_by("created_at"))
    assert {m.kind for m in messages} == set(OPERATIONS)  # every operation was driven
    for message in messages:
        assert validate_operation(message.kind, message.payload) == {}, message.payload
    assert {m.status for m in messages} == {OutboxMessage.Status.SENT}
    for message in messages:
        if "legal_entity" in OPERATIONS[message.kind].schema["required"]:
            assert message.payload["legal_entity"] in ("US01", None), message.kind
    upserts = [m.payload for m in messages if m.kind == "erp.customer.upsert"]
    assert {p["legal_entity"] for p in upserts} == {"US01"}
    merge = next(m.payload for m in messages if m.kind == "erp.customer.merge")
    assert (merge["external_id"], merge["legal_entity"]) == ("C-1", "US01")


def _time_record(**overrides) -> dict:
    keys = ("time_entry_id", "project_id", "phase_code", "person_email", "role", "work_date")
    data = time_entry_data(time_entry_id="TE-1")
    payload = {key: data[key] for key in keys}
    return {**payload, "hours": "7.50", "billable": True, "legal_entity": "US01", **overrides}


@pytest.mark.django_db
def test_a_malformed_payload_goes_dead_with_the_schema_reason_and_replays_after_a_fix(systems):
    erp = systems["erp"][0]
    malformed = _time_record(hours="7.5 h")
    del malformed["legal_entity"]
    with transaction.atomic():
        message = enqueue_outbox_message(
            system=erp,
            kind="erp.time_entry.record",
            payload=malformed,
            idempotency_key="erp.time_entry.record:TE-1",
            object_key="time_entry:TE-1",
        )
    dispatch_outbox_message(message_id=message.pk)

    message.refresh_from_db()
    assert (message.status, message.error_class) == ("dead", "permanent")
    assert message.last_error.startswith(
        "erp.time_entry.record payload does not match its schema: "
    )
    assert "legal_entity: This field is required." in message.last_error
    assert "hours: '7.5 h' does not match" in message.last_error
    assert not SandboxCall.objects.exists()  # the connector never saw it

    OutboxMessage.objects.filter(pk=message.pk).update(payload=_time_record())
    replay_outbox_message(message_id=message.pk)
    drain()
    message.refresh_from_db()
    assert message.status == OutboxMessage.Status.SENT
    assert SandboxCall.objects.get().outcome == "created"
