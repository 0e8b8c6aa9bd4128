"""What operations sees of Salesforce: the org's API quota as its answers report it, and a
pause the quota caused, on the operations dashboard."""

import pytest
from django.db import transaction

from integrations.models import OutboxMessage
from integrations.services.outbox import enqueue_outbox_message
from tests.conftest import make_user
from tests.helpers import drain

pytestmark = pytest.mark.django_db


def test_the_dashboard_shows_the_quota_used_and_the_pause_it_caused(client, sf_firm):
    fake = sf_firm["fake"]
    fake.api_used = 4790
    with transaction.atomic():
        enqueue_outbox_message(
            system=sf_firm["crm"],
            kind="crm.event.publish",
            payload={
                "type": "throughline.project.activated",
                "timestamp": "2026-12-04T10:00:00+00:00",
                "data": {"project_id": "1"},
            },  # fmt: skip
            idempotency_key="evt-1",
        )
    drain()
    assert OutboxMessage.objects.get().status == OutboxMessage.Status.SENT
    [published] = fake.published_events
    assert published[0] == "Throughline_Event__e" and published[1]["Idempotency_Key__c"] == "evt-1"
    client.force_login(make_user("ops", "operations"))
    page = client.get("/operations/").content.decode()
    assert "4,791 of 5,000 (95.8%)" in page
    assert "paused until" in page and "to keep a reserve" in page
