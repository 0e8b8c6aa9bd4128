"""docs/contract.md §1 over HTTP, signed by the standardwebhooks package."""

import json
from datetime import UTC, datetime, timedelta

import pytest

from integrations.models import InboundEvent, RejectedDelivery
from tests.helpers import envelope, post_event, sign_headers, time_entry_data

pytestmark = pytest.mark.django_db


def test_valid_event_is_accepted_with_a_trace_id(client, psa_secret):
    response = post_event(
        client,
        "psa",
        psa_secret,
        envelope("psa.time_entry.approved", time_entry_data()),
        webhook_id="msg_1",
    )
    assert response.status_code == 202
    body = response.json()
    assert body["status"] == "accepted" and body["id"] == "msg_1" and len(body["trace_id"]) == 32
    event = InboundEvent.objects.get(webhook_id="msg_1")
    assert event.status == InboundEvent.Status.RECEIVED
    assert event.trace_id == body["trace_id"]
    assert event.object_key.startswith("time_entry:")


def test_repeated_delivery_is_a_duplicate_and_does_no_new_work(client, psa_secret):
    body = envelope("psa.time_entry.approved", time_entry_data())
    first = post_event(client, "psa", psa_secret, body, webhook_id="msg_dup")
    again = post_event(client, "psa", psa_secret, body, webhook_id="msg_dup")
    assert again.status_code == 200
    assert again.json()["status"] == "duplicate"
    assert again.json()["trace_id"] == first.json()["trace_id"]
    assert InboundEvent.objects.filter(webhook_id="msg_dup").count() == 1


def test_bad_signature_is_refused_and_recorded(client, psa_secret, systems):
    raw = json.dumps(envelope("psa.time_entry.approved", time_entry_data())).encode()
    headers = sign_headers(systems["crm"][1], raw)  # signed with another system's secret
    response = client.generic(
        "POST",
        "/api/v1/hooks/psa/",
        raw,
        content_type="application/json",
        headers={k: v for k, v in headers.items() if k != "content-type"},
    )
    assert response.status_code == 401
    assert "signature" in response.json()["reason"]
    rejected = RejectedDelivery.objects.get()
    assert rejected.reason == RejectedDelivery.Reason.SIGNATURE and rejected.system_slug == "psa"
    assert not InboundEvent.objects.exists()


def test_body_changed_by_one_byte_is_refused(client, psa_secret):
    raw = json.dumps(envelope("psa.time_entry.approved", time_entry_data())).encode()
    headers = sign_headers(psa_secret, raw)
    response = client.generic(
        "POST",
        "/api/v1/hooks/psa/",
        raw + b" ",
        content_type="application/json",
        headers={k: v for k, v in headers.items() if k != "content-type"},
    )
    assert response.status_code == 401


def test_missing_signature_headers_are_refused(client, systems):
    response = client.post("/api/v1/hooks/psa/", data=b"{}", content_type="application/json")
    assert response.status_code == 401
    assert RejectedDelivery.objects.get().reason == RejectedDelivery.Reason.SIGNATURE


@pytest.mark.parametrize("skew", [timedelta(seconds=-301), timedelta(seconds=301)])
def test_timestamp_more_than_five_minutes_off_is_refused(client, psa_secret, skew):
    # The header carries whole seconds: round away from now, so the delivery is at least 301 s
    # off when it is checked (truncating now + 301.4 s to 301 s let it pass within tolerance).
    now = datetime.now(tz=UTC).replace(microsecond=0)
    at = now + skew + (timedelta(seconds=1) if skew > timedelta(0) else timedelta(0))
    response = post_event(
        client,
        "psa",
        psa_secret,
        envelope("psa.time_entry.approved", time_entry_data()),
        at=at,
    )
    assert response.status_code == 401
    assert RejectedDelivery.objects.get().reason == RejectedDelivery.Reason.TIMESTAMP


def test_timestamp_within_tolerance_is_accepted(client, psa_secret):
    response = post_event(
        client,
        "psa",
        psa_secret,
        envelope("psa.time_entry.approved", time_entry_data()),
        at=datetime.now(tz=UTC) - timedelta(seconds=240),
    )
    assert response.status_code == 202


def test_unknown_system_is_refused_without_keeping_the_body(client, systems):
    raw = json.dumps(envelope("psa.time_entry.approved", time_entry_data())).encode()
    response = client.generic(
        "POST",
        "/api/v1/hooks/nope/",
        raw,
        content_type="application/json",
        headers=sign_headers(systems["psa"][1], raw),
    )
    assert response.status_code == 401
    rejected = RejectedDelivery.objects.get()
    assert rejected.reason == RejectedDelivery.Reason.UNKNOWN_SYSTEM and rejected.body_excerpt == ""


def test_oversize_body_is_refused_with_413(client, psa_secret, settings):
    settings.WEBHOOK_MAX_BODY_BYTES = 1024
    body = envelope("psa.time_entry.approved", time_entry_data(notes="x" * 2000))
    response = post_event(client, "psa", psa_secret, body)
    assert response.status_code == 413
    assert RejectedDelivery.objects.get().reason == RejectedDelivery.Reason.TOO_LARGE


def test_not_json_is_a_400_and_kept_as_rejected(client, psa_secret):
    response = post_event(client, "psa", psa_secret, b"this is not json", webhook_id="msg_bad")
    assert response.status_code == 400
    assert "JSON" in response.json()["reason"]
    event = InboundEvent.objects.get(webhook_id="msg_bad")
    assert event.status == InboundEvent.Status.REJECTED and event.raw_body == "this is not json"


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ({"timestamp": "2026-11-01T00:00:00Z", "data": {}}, "no event type"),
        (
            {"type": "psa.coffee.brewed", "timestamp": "2026-11-01T00:00:00Z", "data": {}},
            "unknown event type",
        ),
    ],
)
def test_missing_or_unknown_type_is_a_400(client, psa_secret, body, reason):
    response = post_event(client, "psa", psa_secret, body)
    assert response.status_code == 400
    assert reason in response.json()["reason"]
    assert InboundEvent.objects.get().status == InboundEvent.Status.REJECTED


def test_schema_failure_is_a_422_with_field_errors(client, psa_secret):
    data = time_entry_data(hours=7.5)  # a JSON number where a decimal string is required
    del data["role"]
    response = post_event(client, "psa", psa_secret, envelope("psa.time_entry.approved", data))
    assert response.status_code == 422
    errors = response.json()["errors"]
    assert "data.hours" in errors and "data.role" in errors
    event = InboundEvent.objects.get()
    assert event.status == InboundEvent.Status.REJECTED and "data.hours" in event.error_details


def test_hours_over_24_fail_the_schema(client, psa_secret):
    response = post_event(
        client,
        "psa",
        psa_secret,
        envelope("psa.time_entry.approved", time_entry_data(hours="24.50")),
    )
    assert response.status_code == 422
    assert "data.hours" in response.json()["errors"]


def test_more_decimals_than_the_columns_hold_is_a_422_naming_each_field(client, psa_secret):
    data = time_entry_data(hours="7.125", bill_rate="150.12345")
    response = post_event(
        client, "psa", psa_secret, envelope("psa.time_entry.approved", data)
    )
    assert response.status_code == 422
    assert {"data.hours", "data.bill_rate"} <= set(response.json()["errors"])
    assert InboundEvent.objects.get().status == InboundEvent.Status.REJECTED  # kept, replayable


@pytest.mark.parametrize("value", ["NaN", "sNaN", "Infinity"])
def test_a_decimal_that_is_not_a_number_is_a_422_not_a_crash(client, psa_secret, value):
    response = post_event(
        client,
        "psa",
        psa_secret,
        envelope("psa.time_entry.approved", time_entry_data(hours=value, bill_rate=value)),
    )
    assert response.status_code == 422
    assert {"data.hours", "data.bill_rate"} <= set(response.json()["errors"])
    assert InboundEvent.objects.get().status == InboundEvent.Status.REJECTED


def test_two_active_secrets_during_rotation_both_work(client, systems):
    from integrations.services.systems import rotate_secret

    old = systems["psa"][1]
    new = rotate_secret(slug="psa").secret
    for secret in (old, new):
        response = post_event(
            client, "psa", secret, envelope("psa.time_entry.approved", time_entry_data())
        )
        assert response.status_code == 202


def test_schemas_are_served_for_every_event_type(client):
    response = client.get("/api/v1/hooks/schemas/")
    assert response.status_code == 200
    schemas = response.json()
    assert "psa.time_entry.approved" in schemas and "erp.invoice.status_changed" in schemas
    assert (
        schemas["psa.time_entry.approved"]["properties"]["data"]["properties"]["hours"]["type"]
        == "string"
    )


def test_a_delivery_is_stored_when_the_shared_rate_counter_is_down(client, systems, settings):
    # The per-system budget lives in Redis; Redis unreachable (a closed port) must not turn an
    # authentic delivery into a 5xx with nothing recorded: it is admitted and stored.
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": "redis://127.0.0.1:1/0",
            "OPTIONS": {"socket_connect_timeout": 0.2, "socket_timeout": 0.2},
        }
    }
    psa = systems["psa"][0]
    psa.rate_limit_per_minute = 1  # near the limit: every delivery asks the shared counter
    psa.save()
    for number in range(2):
        response = post_event(
            client,
            "psa",
            systems["psa"][1],
            envelope("psa.time_entry.approved", time_entry_data(time_entry_id=f"TE-R{number}")),
        )
        assert response.status_code == 202, response.content
    assert InboundEvent.objects.count() == 2


def test_too_many_requests_from_one_system_get_429_with_retry_after(client, systems):
    from django.core.cache import cache
    from django.utils import timezone

    psa = systems["psa"][0]
    psa.rate_limit_per_minute = 2
    psa.save()

    def three_deliveries():
        # The budget is a one-minute window in the shared cache: start from an empty window.
        now = timezone.now()
        cache.delete_many([f"webhook-rate:{psa.pk}:{now:%Y%m%d%H%M}"])
        answers = [
            post_event(
                client,
                "psa",
                systems["psa"][1],
                envelope("psa.time_entry.approved", time_entry_data()),
            )
            for _ in range(3)
        ]
        return answers, now.minute == timezone.now().minute

    answers, same_window = three_deliveries()
    if not same_window:  # crossed a minute boundary: the window reset mid-test
        answers, _ = three_deliveries()
    assert [a.status_code for a in answers][-1] == 429
    assert [a.status_code for a in answers][:2] == [202, 202]
    assert 0 < int(answers[-1]["Retry-After"]) <= 60
    # Another system keeps its own budget.
    crm_answer = post_event(
        client,
        "crm",
        systems["crm"][1],
        envelope(
            "crm.account.upserted",
            {"account_id": "001", "name": "Acme", "updated_at": "2026-11-01T00:00:00Z"},
        ),
    )
    assert crm_answer.status_code == 202
