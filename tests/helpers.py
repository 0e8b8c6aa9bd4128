"""Test helpers: a real Standard Webhooks signing client and a synchronous drain of due work."""

import json
import os
import socket
import uuid
from datetime import UTC, datetime

import pytest
from django.utils import timezone
from standardwebhooks.webhooks import Webhook

IN_CI = os.environ.get("CI", "").lower() == "true"


def require(available: bool, reason: str) -> None:
    """Skip when a service is missing locally; under CI=true a missing service is a failure."""
    if available:
        return
    if IN_CI:
        pytest.fail(f"CI=true and {reason}", pytrace=False)
    pytest.skip(reason)


def port_open(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False


def sign_headers(
    secret: str,
    body: bytes,
    *,
    webhook_id: str | None = None,
    at: datetime | None = None,
    extra_secrets: tuple[str, ...] = (),
) -> dict[str, str]:
    """Headers of a delivery signed by the standardwebhooks package (the integrator's client)."""
    webhook_id = webhook_id or f"msg_{uuid.uuid4().hex}"
    at = at or datetime.now(tz=UTC)
    signatures = [Webhook(s).sign(webhook_id, at, body.decode()) for s in (secret, *extra_secrets)]
    return {
        "webhook-id": webhook_id,
        "webhook-timestamp": str(int(at.timestamp())),
        "webhook-signature": " ".join(signatures),
        "content-type": "application/json",
    }


def envelope(event_type: str, data: dict, *, timestamp: datetime | None = None) -> dict:
    return {
        "type": event_type,
        "timestamp": (timestamp or datetime.now(tz=UTC)).isoformat(),
        "data": data,
    }


def post_event(client, slug: str, secret: str, body: dict | bytes, **sign_kwargs):
    """POST a signed delivery through Django's test client (the full HTTP request stack)."""
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    headers = sign_headers(secret, raw, **sign_kwargs)
    return client.generic(
        "POST",
        f"/api/v1/hooks/{slug}/",
        raw,
        content_type="application/json",
        headers={k: v for k, v in headers.items() if k != "content-type"},
    )


def drain(max_rounds: int = 50) -> None:
    """Run due work synchronously, as a worker would: apply received events, send due messages.

    Unit tests use this instead of a broker; the end-to-end tests use a real worker.
    """
    from integrations.models import InboundEvent, OutboxMessage
    from integrations.services.inbox import process_inbound_event
    from integrations.services.outbox import dispatch_outbox_message

    for _ in range(max_rounds):
        now = timezone.now()
        events = list(
            InboundEvent.objects.filter(
                status__in=[InboundEvent.Status.RECEIVED, InboundEvent.Status.FAILED]
            )
            .exclude(next_attempt_at__gt=now)
            .order_by("received_at", "id")
            .values_list("pk", flat=True)
        )
        messages = list(
            OutboxMessage.objects.filter(
                status__in=[OutboxMessage.Status.PENDING, OutboxMessage.Status.FAILED],
                next_attempt_at__lte=now,
            )
            .order_by("created_at")
            .values_list("pk", flat=True)
        )
        if not events and not messages:
            return
        for event_id in events:
            process_inbound_event(event_id=event_id)
        for message_id in messages:
            dispatch_outbox_message(message_id=message_id)


def time_entry_data(**overrides) -> dict:
    data = {
        "time_entry_id": f"TE-{uuid.uuid4().hex[:8]}",
        "project_id": "PRJ-100",
        "phase_code": "DISC",
        "person_email": "ana@acme.example",
        "role": "consultant",
        "work_date": "2026-11-02",
        "hours": "7.50",
        "billable": True,
        "category": "delivery",
        "bill_rate": None,
        "notes": "Discovery workshop",
        "approved_at": "2026-11-03T09:00:00+00:00",
        "approved_by": "pm@acme.example",
    }
    data.update(overrides)
    return data
