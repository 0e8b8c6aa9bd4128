"""docs/contract.md §1 "Answers" against hostile input (docs/operations.md "Hostile input"):
every class a probe of a production-configured Throughline answered 500 (or 202 then dead) is
answered 4xx with a reason, and recorded. They run on whatever DATABASE_URL names; several of
these only failed on PostgreSQL (jsonb and text refuse NUL, lone surrogates, NaN)."""

import io
import json
import time
import uuid
from base64 import b64encode

import pytest
from django.core.cache import cache
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from integrations.connectors.signatures import sign
from integrations.models import InboundEvent, RejectedDelivery
from tests.helpers import envelope, post_event, sign_headers, time_entry_data

pytestmark = pytest.mark.django_db
URL = "/api/v1/hooks/psa/"


def _entry(**overrides) -> bytes:
    return json.dumps(envelope("psa.time_entry.approved", time_entry_data(**overrides))).encode()


def _post_raw(client, secret: str, raw: bytes, *, webhook_id: str | None = None, **extra):
    """A delivery of any bytes, signed by our verifier's twin (the standardwebhooks package
    signs text only, so it cannot sign a body that is not UTF-8)."""
    webhook_id = webhook_id or f"msg_{uuid.uuid4().hex}"
    now = int(time.time())
    headers = {
        "webhook-id": webhook_id,
        "webhook-timestamp": str(now),
        "webhook-signature": sign(secret, webhook_id, now, raw),
    }
    return client.generic(
        "POST", URL, raw, content_type="application/json", headers=headers, **extra
    )


def _rejected_event(response) -> InboundEvent:
    event = InboundEvent.objects.get(webhook_id=response.json()["id"])
    assert event.status == InboundEvent.Status.REJECTED
    assert event.trace_id == response.json()["trace_id"]
    return event


@pytest.mark.parametrize(
    ("name", "value", "reason"),
    [
        ("webhook-timestamp", "9" * 400, "webhook-timestamp over 20 characters"),
        ("webhook-signature", "v1," + "A" * 8000, "webhook-signature over 4096 characters"),
        ("webhook-id", "msg\x00nul", "webhook-id holds a NUL character"),
        ("webhook-id", "msg\ud800", "webhook-id holds a NUL character or a lone surrogate"),
    ],
)
def test_signature_headers_of_odd_length_or_characters_are_a_400(
    client, psa_secret, name, value, reason
):
    raw = _entry()
    headers = {**sign_headers(psa_secret, raw), name: value}
    response = client.generic("POST", URL, raw, content_type="application/json", headers=headers)
    assert response.status_code == 400
    assert reason in response.json()["reason"]
    rejected = RejectedDelivery.objects.get()
    assert rejected.reason == RejectedDelivery.Reason.HEADERS and reason in rejected.detail
    assert bytes(rejected.raw_bytes) == raw  # the evidence, byte for byte
    assert not InboundEvent.objects.exists()


def test_other_headers_of_odd_length_or_characters_are_kept_cleaned(client, psa_secret):
    raw = _entry()
    odd = {"user-agent": "agent\x00" + "x" * 5000, "content-type": "text/\x00plain"}
    accepted = client.generic(
        "POST",
        URL,
        raw,
        content_type="application/json",
        headers={**sign_headers(psa_secret, raw), **odd},
    )
    assert accepted.status_code == 202
    forged = {**sign_headers(psa_secret, raw + b" "), **odd}
    refused = client.generic("POST", URL, raw, headers=forged, REMOTE_ADDR="unix:/run/gunicorn")
    assert refused.status_code == 401
    rejected = RejectedDelivery.objects.get()
    assert rejected.headers["user-agent"].startswith("agent\ufffdxxx")
    assert len(rejected.headers["user-agent"]) == 200 and rejected.remote_addr is None


def test_a_webhook_id_over_200_characters_is_refused_not_cut(client, psa_secret):
    stem = "m" * 200
    answers = [
        post_event(client, "psa", psa_secret, _entry(), webhook_id=stem + tail)
        for tail in ("-first", "-second")
    ]
    for answer in answers:
        assert answer.status_code == 400
        assert answer.json()["reason"].startswith("webhook-id over 200 characters (20")
    assert RejectedDelivery.objects.filter(reason=RejectedDelivery.Reason.HEADERS).count() == 2
    assert not InboundEvent.objects.exists()  # neither became the other's "duplicate"
    assert post_event(client, "psa", psa_secret, _entry(), webhook_id=stem).status_code == 202


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (b'{"type": "psa.x", "data": "\xff"}', "body is not UTF-8 (byte 27)"),
        (b'{"type": "psa.x", "data": "\xed\xa0\x80"}', "body is not UTF-8 (byte 27)"),
        (b"\x00\x01 not json at all \x00", "body is not valid JSON"),
    ],
)
def test_bodies_of_bytes_text_columns_cannot_hold_are_a_400_kept_byte_for_byte(
    client, psa_secret, raw, reason
):
    response = _post_raw(client, psa_secret, raw)
    assert response.status_code == 400 and response.json()["reason"] == reason
    event = _rejected_event(response)
    assert event.payload is None and "\x00" not in event.raw_body
    assert bytes(event.raw_bytes) == raw


@pytest.mark.parametrize(
    ("data", "path", "words"),
    [
        ({"notes": "before\u0000after"}, "data.notes", "NUL character"),
        ({"notes": "lone \ud800 surrogate"}, "data.notes", "lone surrogate (\\ud800)"),
        ({"extra": {"bad\u0000key": 1}}, "data.extra.bad\ufffdkey", "key: a NUL character"),
        ({"milestones": ["\udfff"]}, "data.milestones.0", "lone surrogate (\\udfff)"),
    ],
)
def test_strings_jsonb_cannot_hold_are_a_422_naming_the_field(
    client, psa_secret, data, path, words
):
    response = _post_raw(client, psa_secret, _entry(**data))
    assert response.status_code == 422, response.content
    assert response.json()["reason"].startswith(path + ": ") and words in response.json()["reason"]
    assert list(response.json()["errors"]) == [path]
    event = _rejected_event(response)
    assert event.payload is None and path in event.error_details
    assert event.event_type == ""  # as for any body that cannot be stored: see raw_body


@pytest.mark.parametrize(
    "number", ["1e400", "-1e400", "NaN", "Infinity", "-Infinity", "9" * 5000, "-" + "1" * 4301]
)
def test_numbers_jsonb_cannot_hold_are_a_422_naming_the_field(client, psa_secret, number):
    raw = _entry(extra=[1, "__NUMBER__"]).replace(b'"__NUMBER__"', number.encode())
    response = _post_raw(client, psa_secret, raw)
    assert response.status_code == 422, response.content
    assert list(response.json()["errors"]) == ["data.extra.1"]
    assert "cannot be stored" in response.json()["reason"]
    assert _rejected_event(response).payload is None


def test_huge_but_storable_numbers_pass(client, psa_secret):
    raw = _entry(extra=[1]).replace(b"[1]", b"[1e308, 1e-400, " + b"9" * 4000 + b"]")
    assert _post_raw(client, psa_secret, raw).status_code == 202


@pytest.mark.parametrize(("depth", "status"), [(100_000, 400), (900, 400), (31, 400), (30, 202)])
def test_nesting_deeper_than_32_is_a_400(client, psa_secret, depth, status):
    # The envelope and its data are two levels: 30 more are 32 in all (accepted), 31 are 33.
    raw = _entry(extra="DEEP").replace(b'"DEEP"', b"[" * depth + b"]" * depth)
    response = _post_raw(client, psa_secret, raw)
    assert response.status_code == status
    if status == 400:
        assert response.json()["reason"].startswith("nesting deeper than 32")
        assert _rejected_event(response).payload is None


@pytest.mark.parametrize(
    "timestamp",
    [
        "2026-02-30T10:00:00Z",  # parses, does not exist (parse_datetime raises ValueError)
        "2026-13-01T10:00:00Z",
        "2026-01-01T24:00:00Z",
        "2026-01-01T10:00:00+99:00",  # an offset datetime.timezone refuses
        "0001-01-01T00:00:00+05:00",  # exists, but not in UTC
        "2026-01-01 garbage",
    ],
)
def test_an_envelope_timestamp_that_cannot_exist_is_a_422(client, psa_secret, timestamp):
    body = {**envelope("psa.time_entry.approved", time_entry_data()), "timestamp": timestamp}
    response = post_event(client, "psa", psa_secret, body)
    assert response.status_code == 422
    assert list(response.json()["errors"]) == ["timestamp"]
    assert _rejected_event(response).payload == body


@pytest.mark.parametrize(
    ("event_type", "data", "field"),
    [
        ("psa.time_entry.approved", time_entry_data(work_date="2026-02-30"), "data.work_date"),
        ("psa.time_entry.approved", time_entry_data(work_date="2026-13-02"), "data.work_date"),
        ("psa.time_entry.approved", time_entry_data(work_date="0000-01-01"), "data.work_date"),
        (
            "psa.time_entry.approved",
            time_entry_data(approved_at="2026-02-29T09:00:00Z"),  # 2026 is not a leap year
            "data.approved_at",
        ),
        (
            "erp.invoice.status_changed",
            {
                "invoice_id": "INV-1",
                "status": "paid",
                "total": "10.00",
                "amount_due": "0.00",
                "currency": "USD",
                "changed_at": "2026-04-31T12:00:00+00:00",
            },
            "data.changed_at",
        ),
        (
            "psa.milestone.completed",
            {"project_id": "P", "milestone_name": "M", "completed_on": "2026-11-31"},
            "data.completed_on",
        ),
    ],
)
def test_dates_in_data_that_cannot_exist_are_a_422_naming_the_field(
    client, systems, event_type, data, field
):
    slug = event_type.split(".")[0]
    response = post_event(client, slug, systems[slug][1], envelope(event_type, data))
    assert response.status_code == 422
    assert list(response.json()["errors"]) == [field]
    assert "exists" in response.json()["errors"][field][0]
    assert _rejected_event(response).error_details == response.json()["errors"]


@pytest.mark.parametrize(("size", "status"), [(1000, 202), (5000, 413)])
def test_a_chunked_body_without_content_length_is_read_up_to_the_limit(
    client, psa_secret, settings, size, status
):
    settings.WEBHOOK_MAX_BODY_BYTES = 2048
    raw = _entry(notes="n" * (size - len(_entry(notes=""))))
    headers = {**sign_headers(psa_secret, raw), "transfer-encoding": "chunked"}
    response = client.generic(
        "POST",
        URL,
        raw,
        content_type="application/json",
        headers=headers,
        CONTENT_LENGTH="",  # what gunicorn passes for a chunked body: none
        **{"wsgi.input": io.BytesIO(raw), "wsgi.input_terminated": True},
    )
    assert response.status_code == status, response.content
    if status == 202:
        assert bytes(InboundEvent.objects.get().raw_bytes) == raw
    else:
        assert response.json()["reason"] == "body over 2048 bytes"
        assert RejectedDelivery.objects.get().reason == RejectedDelivery.Reason.TOO_LARGE


def _fresh_minute() -> None:
    """Start away from a minute boundary: the budgets are one-minute windows."""
    if timezone.now().second > 50:
        time.sleep(61 - timezone.now().second)


def test_forged_requests_never_spend_the_real_senders_budget(systems, settings):
    settings.WEBHOOK_UNSIGNED_PER_IP_PER_MINUTE = 10
    psa, secret = systems["psa"]
    psa.rate_limit_per_minute = 5
    psa.save()
    _fresh_minute()
    address = f"198.51.100.{uuid.uuid4().int % 250 + 1}"  # one address for forger and sender
    minute = f"{timezone.now():%Y%m%d%H%M}"
    cache.delete_many([f"webhook-refused:{address}:{minute}", f"webhook-rate:{psa.pk}:{minute}"])
    sender = Client(REMOTE_ADDR=address)
    forger_key = "whsec_" + b64encode(b"the forger's own key").decode()
    forged = [post_event(sender, "psa", forger_key, _entry()) for _ in range(40)]
    assert [r.status_code for r in forged] == [401] * 10 + [429] * 30
    assert forged[-1].json()["reason"] == "too many refused deliveries from this address"
    assert 0 < int(forged[-1]["Retry-After"]) <= 60
    rows = RejectedDelivery.objects.filter(remote_addr=address)
    assert rows.filter(reason=RejectedDelivery.Reason.SIGNATURE).count() == 10  # one row each
    aggregate = rows.get(reason=RejectedDelivery.Reason.RATE_LIMITED)
    assert aggregate.count == 30 and aggregate.aggregate_key.startswith(f"address:{address}:")
    # The real sender, from the same address, still has its whole budget.
    real = [post_event(sender, "psa", secret, _entry()) for _ in range(6)]
    assert [r.status_code for r in real] == [202] * 5 + [429]
    assert real[-1].json()["reason"] == "too many requests"
    over = RejectedDelivery.objects.get(aggregate_key__startswith=f"system:{psa.pk}:")
    assert over.count == 1 and over.system == psa  # counted, not lost


def test_every_refusal_keeps_its_raw_bytes_and_the_admin_shows_them_read_only(
    client, psa_secret, admin_user
):
    raw = _entry(notes="évidence")
    accepted = post_event(client, "psa", psa_secret, raw)
    event = InboundEvent.objects.get(webhook_id=accepted.json()["id"])
    assert bytes(event.raw_bytes) == raw
    forged = {**sign_headers(psa_secret, raw), "webhook-signature": "v1,AAAA"}
    client.generic("POST", URL, raw, content_type="application/json", headers=forged)
    rejected = RejectedDelivery.objects.get()
    assert bytes(rejected.raw_bytes) == raw and rejected.headers["webhook-signature"] == "v1,AAAA"
    client.force_login(admin_user)
    for model, pk in (("inboundevent", event.pk), ("rejecteddelivery", rejected.pk)):
        page = client.get(reverse(f"admin:integrations_{model}_change", args=[pk]))
        assert page.status_code == 200
        assert b64encode(raw).decode() in page.content.decode()
        assert "raw_base64" not in page.context["adminform"].form.fields


def test_a_system_name_no_system_can_have_is_refused_and_recorded(client, systems):
    url = "/api/v1/hooks/" + "s" * 5000 + "/"
    response = client.post(url, b"{}", content_type="application/json")
    assert response.status_code == 401
    assert response.json()["reason"] == f"unknown system {'s' * 80!r}"
    assert RejectedDelivery.objects.get().reason == RejectedDelivery.Reason.UNKNOWN_SYSTEM
