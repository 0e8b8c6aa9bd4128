"""The runtime's REST API over HTTP with real tokens: inbox, outbox, replay, traces, breakers."""

import pytest

from integrations.models import CircuitBreaker, OutboxMessage
from tests.helpers import drain, envelope, post_event, time_entry_data

pytestmark = pytest.mark.django_db


@pytest.fixture
def delivered(client, psa_secret):
    response = post_event(
        client, "psa", psa_secret, envelope("psa.time_entry.approved", time_entry_data())
    )
    drain()
    return response.json()["trace_id"]


def test_events_are_listed_and_filtered_for_operations(api_client_for, delivered):
    api = api_client_for("operations")
    body = api.get("/api/v1/events/", {"system": "psa", "status": "processed"}).json()
    assert body["count"] == 1
    assert body["results"][0]["type"] == "psa.time_entry.approved"
    assert body["results"][0]["trace_id"] == delivered
    assert api.get("/api/v1/events/", {"status": "failed"}).json()["count"] == 0


def test_bearer_tokens_work_too(api_client_for, delivered):
    api = api_client_for("operations")
    token = api._credentials["HTTP_AUTHORIZATION"].split()[1]
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    assert api.get("/api/v1/outbox/").status_code == 200


def test_pmo_cannot_read_the_inbox(api_client_for, delivered):
    assert api_client_for("pmo").get("/api/v1/events/").status_code == 403


def test_anonymous_is_refused(client, delivered):
    assert client.get("/api/v1/outbox/").status_code in (401, 403)


def test_outbox_lists_attempt_history_and_trace(api_client_for, delivered):
    body = api_client_for("operations").get("/api/v1/outbox/", {"trace_id": delivered}).json()
    message = body["results"][0]
    assert message["status"] == "sent" and message["system"] == "erp"
    assert message["attempts_history"][0]["outcome"] == "success"


def test_outbox_replay_over_the_api(api_client_for, systems):
    from integrations.services.systems import set_sandbox_faults

    set_sandbox_faults(system=systems["erp"][0], permanent_operations=["erp.time_entry.record"])
    from django.test import Client

    post_event(
        Client(), "psa", systems["psa"][1], envelope("psa.time_entry.approved", time_entry_data())
    )
    drain()
    message = OutboxMessage.objects.get()
    assert message.status == OutboxMessage.Status.DEAD
    set_sandbox_faults(system=systems["erp"][0], clear=True)
    api = api_client_for("operations")
    response = api.post(f"/api/v1/outbox/{message.pk}/replay/")
    assert response.status_code == 202 and response.json()["status"] == "pending"
    drain()
    detail = api.get(f"/api/v1/outbox/{message.pk}/").json()
    assert detail["status"] == "sent"
    assert [a["outcome"] for a in detail["attempts_history"]] == ["permanent", "success"]


def test_trace_tells_the_story_in_time_order(api_client_for, delivered):
    body = api_client_for("operations").get(f"/api/v1/traces/{delivered}/").json()
    actions = [(step["kind"], step["action"]) for step in body["steps"]]
    assert actions[0] == ("event", "received")
    assert ("record", "created") in actions and actions[-1] == ("outbound", "sent")


def test_unknown_trace_is_404(api_client_for, db):
    assert api_client_for("finance").get("/api/v1/traces/0000/").status_code == 404


def test_breaker_state_is_visible_and_can_be_forced(api_client_for, systems):
    api = api_client_for("operations")
    erp = next(s for s in api.get("/api/v1/systems/").json()["results"] if s["slug"] == "erp")
    assert erp["breaker"]["state"] == "closed" and erp["active_secrets"] == [1]
    assert "whsec_" not in str(api.get("/api/v1/systems/").json())
    response = api.post("/api/v1/systems/erp/breaker/", {"state": "open"}, format="json")
    assert response.json()["breaker"]["state"] == "open"
    assert CircuitBreaker.objects.get(system__slug="erp").state == "open"


def test_list_query_count_does_not_grow_with_rows(api_client_for, client, psa_secret):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    api = api_client_for("operations")
    post_event(client, "psa", psa_secret, envelope("psa.time_entry.approved", time_entry_data()))
    drain()
    with CaptureQueriesContext(connection) as one:
        api.get("/api/v1/outbox/")
    for _ in range(5):
        post_event(
            client, "psa", psa_secret, envelope("psa.time_entry.approved", time_entry_data())
        )
    drain()
    with CaptureQueriesContext(connection) as many:
        assert api.get("/api/v1/outbox/").json()["count"] == 6
    assert len(many) == len(one)
