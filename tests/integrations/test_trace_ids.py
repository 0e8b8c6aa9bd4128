"""Trace ids are ours (integrations/middleware.py): a client's X-Request-ID never becomes or
joins a trace; a well-formed one is kept as the client's correlation id on the steps of the
new trace and echoed back; a hostile one is ignored."""

import pytest
from django.http import HttpResponse
from django.test import RequestFactory

from integrations.handlers import add_trace_header, clear_trace, restore_trace
from integrations.middleware import TraceMiddleware
from integrations.models import TraceStep
from integrations.services.traces import (
    get_client_request_id,
    get_trace_id,
    record_trace_step,
    use_trace,
)
from tests.helpers import envelope, post_event, time_entry_data

pytestmark = pytest.mark.django_db


def _recording_view(request):
    """A view that records one step on the request's trace (as an API write does)."""
    record_trace_step(kind="note", action="noted", summary="work of the request")
    return HttpResponse("ok")


def _through_middleware(**meta) -> HttpResponse:
    return TraceMiddleware(_recording_view)(RequestFactory().post("/anything/", **meta))


@pytest.fixture
def existing_trace(client, psa_secret) -> str:
    response = post_event(
        client, "psa", psa_secret, envelope("psa.time_entry.approved", time_entry_data())
    )
    return response.json()["trace_id"]


def test_an_existing_trace_id_sent_as_x_request_id_gets_a_new_trace(existing_trace):
    before = TraceStep.objects.filter(trace_id=existing_trace).count()

    response = _through_middleware(HTTP_X_REQUEST_ID=existing_trace)

    trace_id = response["X-Trace-ID"]
    assert len(trace_id) == 32 and trace_id != existing_trace
    assert response["X-Request-ID"] == existing_trace  # echoed back
    assert TraceStep.objects.filter(trace_id=existing_trace).count() == before  # not joined
    step = TraceStep.objects.get(trace_id=trace_id)
    assert step.client_request_id == existing_trace  # the client's value, findable on it
    assert TraceStep.objects.get(client_request_id=existing_trace).trace_id == trace_id


def test_the_client_request_id_is_shown_by_the_trace_api_and_page(api_client_for, admin_client):
    response = _through_middleware(HTTP_X_REQUEST_ID="client-req 42/a")
    trace_id = response["X-Trace-ID"]

    body = api_client_for("operations").get(f"/api/v1/traces/{trace_id}/").json()
    assert body["trace_id"] == trace_id
    assert [step["client_request_id"] for step in body["steps"]] == ["client-req 42/a"]
    page = admin_client.get(f"/traces/{trace_id}/")
    assert page.status_code == 200 and "client-req 42/a" in page.content.decode()


def test_over_http_every_answer_gets_our_trace_id_and_the_echo(client, existing_trace):
    response = client.get("/api/v1/", headers={"X-Request-ID": existing_trace})
    assert response.status_code == 200
    assert response["X-Trace-ID"] != existing_trace and len(response["X-Trace-ID"]) == 32
    assert response["X-Request-ID"] == existing_trace
    plain = client.get("/api/v1/")
    assert "X-Request-ID" not in plain and len(plain["X-Trace-ID"]) == 32


def test_a_webhook_answer_names_the_trace_of_its_event(client, psa_secret):
    response = post_event(
        client,
        "psa",
        psa_secret,
        envelope("psa.time_entry.approved", time_entry_data()),
    )
    assert response.status_code == 202
    assert response["X-Trace-ID"] == response.json()["trace_id"]  # not the request's


@pytest.mark.parametrize(
    "hostile",
    [
        "x" * 201,
        "a" * 100_000,
        "abc\x00def",
        "abc\r\nSet-Cookie: a=b",
        "tab\there",
        "\x1b[31mred",
        "caf\xc3\xa9",  # UTF-8 bytes as WSGI hands them over (latin-1)
        " ",
        "",
    ],
)
def test_a_hostile_x_request_id_is_ignored_without_a_500(client, hostile):
    response = _through_middleware(HTTP_X_REQUEST_ID=hostile)
    assert response.status_code == 200
    assert "X-Request-ID" not in response
    assert TraceStep.objects.get(trace_id=response["X-Trace-ID"]).client_request_id == ""
    over_http = client.get("/api/v1/", HTTP_X_REQUEST_ID=hostile)
    assert over_http.status_code == 200 and "X-Request-ID" not in over_http


def test_the_longest_kept_value_is_200_printable_characters():
    value = "r" * 199 + "~"
    response = _through_middleware(HTTP_X_REQUEST_ID=value)
    assert response["X-Request-ID"] == value
    assert TraceStep.objects.get(trace_id=response["X-Trace-ID"]).client_request_id == value


def test_a_worker_does_not_inherit_a_client_request_id():
    """Workers apply batches gathered from many requests: the correlation id stays with the
    request's own steps, never in a task header."""
    headers: dict = {}
    with use_trace("t" * 32, client_request_id="req-7"):
        add_trace_header(headers=headers)
    assert headers == {"trace_id": "t" * 32}

    class Task:
        class request:
            trace_id = "t" * 32

    restore_trace(task=Task)
    try:
        assert (get_trace_id(), get_client_request_id()) == ("t" * 32, "")
    finally:
        clear_trace()
