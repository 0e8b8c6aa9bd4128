"""Applying events: handler registry, failures with backoff, dead events, replay."""

import pytest
from django.utils import timezone

from integrations.models import InboundEvent
from integrations.registry import inbox_handlers
from integrations.services.inbox import process_inbound_event, replay_event
from tests.helpers import envelope, post_event, time_entry_data

pytestmark = pytest.mark.django_db


@pytest.fixture
def failing_handler():
    """Swap the time-entry handler for one that raises (the registry is process-global)."""
    original = inbox_handlers._items["psa.time_entry.approved"]

    def explode(event):
        raise RuntimeError("ERP mapping table is empty")

    inbox_handlers._items["psa.time_entry.approved"] = explode
    yield
    inbox_handlers._items["psa.time_entry.approved"] = original


def _event(client, secret, **data):
    response = post_event(
        client, "psa", secret, envelope("psa.time_entry.approved", time_entry_data(**data))
    )
    return InboundEvent.objects.get(webhook_id=response.json()["id"])


def test_failing_handler_leaves_the_event_failed_with_a_later_retry(
    client, psa_secret, failing_handler
):
    event = process_inbound_event(event_id=_event(client, psa_secret).pk)
    assert event.status == InboundEvent.Status.FAILED
    assert "ERP mapping table is empty" in event.error
    assert event.next_attempt_at > timezone.now()


def test_event_dies_after_the_last_attempt(client, psa_secret, failing_handler, settings):
    settings.INBOX_MAX_ATTEMPTS = 2
    event = _event(client, psa_secret)
    process_inbound_event(event_id=event.pk)
    InboundEvent.objects.filter(pk=event.pk).update(next_attempt_at=timezone.now())
    event = process_inbound_event(event_id=event.pk)
    assert event.status == InboundEvent.Status.DEAD and event.attempts == 2


def test_replayed_event_is_applied_after_the_fix(client, psa_secret, failing_handler, settings):
    settings.INBOX_MAX_ATTEMPTS = 1
    event = process_inbound_event(event_id=_event(client, psa_secret, time_entry_id="TE-R").pk)
    assert event.status == InboundEvent.Status.DEAD
    inbox_handlers._items["psa.time_entry.approved"] = __import__(
        "billing.handlers", fromlist=["x"]
    ).handle_time_entry_approved
    replay_event(event_id=event.pk)
    event = process_inbound_event(event_id=event.pk)
    assert event.status == InboundEvent.Status.PROCESSED and event.replay_count == 1


def test_event_without_a_handler_is_unhandled_not_a_crash(client, psa_secret):
    original = inbox_handlers._items.pop("psa.time_entry.approved")
    try:
        event = process_inbound_event(event_id=_event(client, psa_secret).pk)
    finally:
        inbox_handlers._items["psa.time_entry.approved"] = original
    assert event.status == InboundEvent.Status.UNHANDLED
    assert "no handler" in event.error


def test_rejected_event_can_be_replayed_once_it_passes_validation(client, psa_secret):
    response = post_event(
        client, "psa", psa_secret, envelope("psa.time_entry.approved", time_entry_data(hours=7.5))
    )
    assert response.status_code == 422
    event = InboundEvent.objects.get()
    event.payload["data"]["hours"] = "7.50"  # an operator corrects the payload in the admin
    event.save()
    replay_event(event_id=event.pk)
    event = process_inbound_event(event_id=event.pk)
    assert event.status == InboundEvent.Status.PROCESSED
