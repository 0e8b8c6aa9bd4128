"""End to end: signed HTTP → live server → broker → real worker process → sandbox ERP."""

import json

import pytest
import requests

from billing.models import TimeEntry
from integrations.models import OutboxMessage, SandboxRecord, TraceStep
from tests.e2e.worker import wait_for
from tests.helpers import envelope, sign_headers, time_entry_data

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_signed_approval_reaches_the_sandbox_erp_through_a_real_worker(
    live_server, systems, celery_worker_process
):
    body = json.dumps(
        envelope("psa.time_entry.approved", time_entry_data(time_entry_id="TE-E2E-1"))
    ).encode()
    response = requests.post(
        f"{live_server.url}/api/v1/hooks/psa/",
        data=body,
        headers=sign_headers(systems["psa"][1], body, webhook_id="msg_e2e_1"),
        timeout=10,
    )
    assert response.status_code == 202, response.text
    trace_id = response.json()["trace_id"]

    record = wait_for(
        lambda: SandboxRecord.objects.filter(system__slug="erp").first(),
        message="the ERP effect\n" + celery_worker_process.log_tail(),
    )
    assert record.data["time_entry_id"] == "TE-E2E-1"
    assert TimeEntry.objects.get(psa_time_entry_id="TE-E2E-1").trace_id == trace_id
    message = wait_for(
        lambda: OutboxMessage.objects.filter(status="sent").first(), message="the message sent"
    )
    assert message.trace_id == trace_id
    actions = set(TraceStep.objects.filter(trace_id=trace_id).values_list("action", flat=True))
    assert {"received", "created", "queued", "processed", "sent"} <= actions

    again = requests.post(
        f"{live_server.url}/api/v1/hooks/psa/",
        data=body,
        headers=sign_headers(systems["psa"][1], body, webhook_id="msg_e2e_1"),
        timeout=10,
    )
    assert again.status_code == 200 and again.json()["status"] == "duplicate"
    trace = requests.get(f"{live_server.url}/api/v1/traces/{trace_id}/", timeout=10)
    assert trace.status_code in (401, 403)  # the trace API needs a token
    assert SandboxRecord.objects.count() == 1
