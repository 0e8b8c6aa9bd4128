"""The runtime's own types, raised and resolved by real dead letters, rejections and deliveries."""

import pytest
from django.db import transaction

from exceptions_queue.handlers import on_dead_letter
from exceptions_queue.models import ExceptionItem
from integrations.models import InboundEvent, OutboxMessage, TraceStep
from tests.factories.exceptions_queue import QueueSubscriptionFactory
from tests.helpers import drain, envelope, post_event, time_entry_data

pytestmark = pytest.mark.django_db


def test_a_dead_lettered_message_raises_delivery_failed_for_operations(dead_message):
    item = ExceptionItem.objects.get(type_code="delivery_failed")
    assert item.queue == "operations" and item.status == "open"
    assert item.subject_key == f"outbox:{dead_message.pk}" and item.subject == dead_message
    assert item.trace_id == dead_message.trace_id
    assert (
        "422" in item.details["last_error"] and item.details["payload"]["time_entry_id"] == "TE-77"
    )
    assert TraceStep.objects.filter(trace_id=dead_message.trace_id, kind="exception").exists()


def test_replay_keeps_the_item_open_until_the_message_is_delivered(dead_message, operations_user):
    from exceptions_queue.services import resolve_exception_item

    item = ExceptionItem.objects.get(type_code="delivery_failed")
    erp = dead_message.system
    erp.settings = {}
    erp.save()

    item = resolve_exception_item(item_id=item.pk, action="replay", user=operations_user)
    assert item.status == "open" and "Replay #1 queued" in item.resolution_outcome

    drain()
    dead_message.refresh_from_db()
    item.refresh_from_db()
    assert dead_message.status == OutboxMessage.Status.SENT
    assert item.status == "resolved" and item.resolution_action == "auto"
    assert item.resolution_outcome.startswith("Delivered to erp")
    # The page says whose action led there, not "automatically".
    from django.test import Client

    viewer = Client()
    viewer.force_login(operations_user)
    page = viewer.get(f"/exceptions/items/{item.pk}/").content.decode()
    said = page[page.index('data-testid="resolved-by"') :].split("</p>")[0]
    assert "when its cause went away, after olga's action (Replay the message" in said


def test_a_replay_that_dies_again_counts_on_the_same_item(dead_message, operations_user):
    from exceptions_queue.services import resolve_exception_item

    item = ExceptionItem.objects.get(type_code="delivery_failed")
    resolve_exception_item(item_id=item.pk, action="replay", user=operations_user)
    drain()
    item.refresh_from_db()
    assert item.status == "open" and item.occurrence_count == 2


def test_a_rejected_event_raises_event_rejected(client, psa_secret):
    body = envelope("psa.time_entry.approved", time_entry_data(hours=7.5))  # a number: refused
    response = post_event(client, "psa", psa_secret, body)
    assert response.status_code == 422
    event = InboundEvent.objects.get()
    item = ExceptionItem.objects.get(type_code="event_rejected")
    assert item.subject_key == f"event:{event.pk}" and item.queue == "operations"
    assert "data.hours" in item.details["errors"]


def test_a_still_invalid_event_refuses_the_replay(client, psa_secret, operations_user):
    from exceptions_queue.errors import ActionRefused
    from exceptions_queue.services import resolve_exception_item

    post_event(client, "psa", psa_secret, envelope("psa.time_entry.approved", {"hours": 1}))
    item = ExceptionItem.objects.get(type_code="event_rejected")
    with pytest.raises(ActionRefused):
        resolve_exception_item(item_id=item.pk, action="replay", user=operations_user)
    item.refresh_from_db()
    assert item.status == "open"


def test_a_dead_inbound_event_raises_event_failed(systems):
    psa = systems["psa"][0]
    event = InboundEvent.objects.create(
        system=psa,
        webhook_id="msg_dead",
        event_type="psa.time_entry.approved",
        payload={"type": "psa.time_entry.approved", "data": {}},
        status="dead",
        error="KeyError: 'project_id'",
        trace_id="b" * 32,
        attempts=5,
    )
    with transaction.atomic():
        on_dead_letter(event)
    item = ExceptionItem.objects.get(type_code="event_failed")
    assert item.subject_key == f"event:{event.pk}" and "KeyError" in item.summary


def test_a_queue_subscription_publishes_items_through_the_outbox(systems):
    from tests.factories.exceptions_queue import raise_item

    crm = systems["crm"][0]
    QueueSubscriptionFactory(queue="operations", system=crm)
    item = raise_item(type_code="delivery_failed", subject_key="outbox:sub")
    message = OutboxMessage.objects.get(kind="crm.event.publish")
    assert message.payload["type"] == "exception.raised"
    assert message.payload["item"]["id"] == item.pk

    # the service desk itself refuses: a delivery_failed item, but no second publish (no loop)
    crm.settings = {"sandbox": {"permanent_operations": ["crm.event.publish"]}}
    crm.save()
    drain()
    message.refresh_from_db()
    assert message.status == "dead"
    assert ExceptionItem.objects.filter(subject_key=f"outbox:{message.pk}").exists()
    assert OutboxMessage.objects.filter(kind="crm.event.publish").count() == 1


def test_item_facts_read_as_words_not_structures():
    from exceptions_queue.views.presenters import _explain_details

    facts = dict(
        _explain_details(
            {"checks": {"legal_entity": "missing", "tax_ok": False}, "fields": ["a", "b"]}
        )["facts"]
    )
    assert facts == {"checks": "legal entity: missing; tax ok: no", "fields": "a, b"}
