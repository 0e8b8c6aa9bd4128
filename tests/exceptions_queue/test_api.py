"""The exceptions/ resource of docs/contract.md §2, as a client uses it over HTTP."""

from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from exceptions_queue.models import ExceptionItem
from tests.factories.exceptions_queue import ExceptionItemFactory, ensure_test_type, raise_item

pytestmark = pytest.mark.django_db


def test_list_is_paginated_filtered_and_shows_money_as_amount_and_currency(api_client_for):
    ensure_test_type()
    raise_item(
        type_code="test_finance_case",
        subject_key="contract:1",
        subject_ref="ACME MSA",
        amount=Decimal("1234.50"),
        currency="EUR",
        trace_id="c" * 32,
    )
    raise_item(type_code="test_finance_case", subject_key="contract:2", subject_ref="Other")
    client = api_client_for("finance")

    body = client.get("/api/v1/exceptions/", {"subject_ref": "acme"}).json()
    assert set(body) == {"count", "next", "previous", "results"} and body["count"] == 1
    row = body["results"][0]
    assert row["amount_at_risk"] == {"amount": "1234.50", "currency": "EUR"}
    assert row["type"] == "test_finance_case" and row["queue"] == "finance"
    assert {a["name"] for a in row["actions"]} >= {"write_off", "recheck", "dismiss"}

    assert client.get("/api/v1/exceptions/", {"trace_id": "c" * 32}).json()["count"] == 1
    assert (
        client.get("/api/v1/exceptions/", {"queue": "finance", "status": "open"}).json()["count"]
        == 2
    )
    assert client.get("/api/v1/exceptions/", {"status": "resolved"}).json()["count"] == 0
    assert client.get("/api/v1/exceptions/", {"type": "delivery_failed"}).json()["count"] == 0


def test_resolve_runs_the_action_and_records_the_outcome(api_client_for):
    ensure_test_type()
    item = raise_item(type_code="test_finance_case", subject_key="contract:3")
    client = api_client_for("finance")

    refused = client.post(
        f"/api/v1/exceptions/{item.pk}/resolve/", {"action": "write_off"}, format="json"
    )
    assert refused.status_code == 400 and refused.json()["code"] == "action_input_invalid"

    response = client.post(
        f"/api/v1/exceptions/{item.pk}/resolve/",
        {"action": "write_off", "data": {"reason": "below threshold"}},
        format="json",
    )
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "resolved"
    assert body["resolution"]["action"] == "write_off"
    assert body["resolution"]["outcome"] == "noted: below threshold"
    assert body["resolution"]["by"] == client.user.username


def test_replay_through_the_api_delivers_and_resolves(dead_message, api_client_for):
    from tests.helpers import drain

    item = ExceptionItem.objects.get(type_code="delivery_failed")
    dead_message.system.settings = {}
    dead_message.system.save()
    client = api_client_for("operations")
    response = client.post(
        f"/api/v1/exceptions/{item.pk}/resolve/", {"action": "replay"}, format="json"
    )
    assert response.status_code == 200 and response.json()["status"] == "open"
    drain()
    assert client.get(f"/api/v1/exceptions/{item.pk}/").json()["status"] == "resolved"


def test_assign_and_comment(api_client_for):
    item = raise_item(type_code="delivery_failed", subject_key="outbox:a1")
    client = api_client_for("operations")
    response = client.post(
        f"/api/v1/exceptions/{item.pk}/assign/", {"assignee": client.user.username}, format="json"
    )
    assert response.json()["status"] == "assigned"
    assert response.json()["assignee"] == client.user.username
    response = client.post(
        f"/api/v1/exceptions/{item.pk}/comment/", {"text": "looking"}, format="json"
    )
    assert response.status_code == 201 and response.json()["author"] == client.user.username
    detail = client.get(f"/api/v1/exceptions/{item.pk}/").json()
    assert [c["text"] for c in detail["comments"]] == ["Claimed", "looking"]


@pytest.mark.parametrize(
    "odd",
    ["\u00b2", "99999999999999999999999999", "0", "-1", " ", "x" * 151, 7, ["a"], {"a": 1}],
)
def test_an_odd_assignee_is_refused_with_a_reason_and_the_item_is_unchanged(api_client_for, odd):
    item = raise_item(type_code="delivery_failed", subject_key="outbox:odd")
    client = api_client_for("operations")
    response = client.post(
        f"/api/v1/exceptions/{item.pk}/assign/", {"assignee": odd}, format="json"
    )
    assert 400 <= response.status_code < 500, response.content
    assert response.json()
    item.refresh_from_db()
    assert item.assignee_id is None and item.status == "open"


def test_assign_by_user_id(api_client_for):
    item = raise_item(type_code="delivery_failed", subject_key="outbox:byid")
    client = api_client_for("operations")
    response = client.post(
        f"/api/v1/exceptions/{item.pk}/assign/", {"assignee": str(client.user.pk)}, format="json"
    )
    assert response.status_code == 200
    assert response.json()["assignee"] == client.user.username


def test_pmo_cannot_see_or_act_on_an_operations_item(api_client_for):
    item = raise_item(type_code="delivery_failed", subject_key="outbox:p1")
    client = api_client_for("pmo")
    assert client.get("/api/v1/exceptions/").json()["count"] == 0
    assert client.get(f"/api/v1/exceptions/{item.pk}/").status_code == 404
    for suffix, body in (
        ("resolve", {"action": "replay"}),
        ("assign", {"assignee": client.user.username}),
        ("comment", {"text": "mine?"}),
        ("dismiss", {"reason": "mine?"}),
    ):
        response = client.post(f"/api/v1/exceptions/{item.pk}/{suffix}/", body, format="json")
        assert response.status_code == 404, suffix
    item.refresh_from_db()
    assert item.status == "open" and not item.comments.exists()


def test_admins_see_every_queue(api_client_for):
    ensure_test_type()
    raise_item(type_code="delivery_failed", subject_key="outbox:adm")
    raise_item(type_code="test_finance_case", subject_key="contract:adm")
    assert api_client_for("admin").get("/api/v1/exceptions/").json()["count"] == 2


def test_unauthenticated_requests_are_refused(client):
    assert client.get("/api/v1/exceptions/").status_code in (401, 403)


def test_list_query_count_does_not_grow_with_rows(api_client_for, operations_user):
    client = api_client_for("operations")
    ExceptionItemFactory(assignee=operations_user)

    def count() -> int:
        with CaptureQueriesContext(connection) as queries:
            assert client.get("/api/v1/exceptions/").status_code == 200
        return len(queries)

    one = count()
    ExceptionItemFactory.create_batch(19, assignee=operations_user, amount_at_risk=Decimal("1.00"))
    assert count() == one
