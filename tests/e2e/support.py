"""Helpers of the reliability tests: signed posts over real HTTP, the sweeper driven by hand,
and the exactly-once checker over the sandbox ERP's records."""

import json
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from tests.helpers import envelope, sign_headers, time_entry_data


def approval_body(number: int, *, prefix: str = "TE") -> bytes:
    return json.dumps(
        envelope(
            "psa.time_entry.approved",
            time_entry_data(time_entry_id=f"{prefix}-{number:05d}"),
        )
    ).encode()


def post_signed(base_url: str, secret: str, body: bytes, webhook_id: str) -> requests.Response:
    """One delivery signed by the standardwebhooks package, over a real socket."""
    return requests.post(
        f"{base_url}/api/v1/hooks/psa/",
        data=body,
        headers=sign_headers(secret, body, webhook_id=webhook_id),
        timeout=30,
    )


def post_approvals(
    base_url: str, secret: str, count: int, *, prefix: str, copies: int = 1, threads: int = 8
) -> Counter:
    """Send ``count`` distinct approvals, each ``copies`` times, from ``threads`` threads; the
    copies of one event are submitted back to back so they race each other. Returns a Counter of
    (webhook-id, status code)."""
    jobs = [
        (f"msg_{prefix}_{n}", approval_body(n, prefix=prefix))
        for n in range(count)
        for _ in range(copies)
    ]
    with ThreadPoolExecutor(max_workers=threads) as pool:
        codes = pool.map(lambda job: (job[0], post_signed(base_url, secret, job[1], job[0])), jobs)
        return Counter((webhook_id, response.status_code) for webhook_id, response in codes)


def sweep_until(predicate, *, timeout: float = 45.0, interval: float = 0.5, message: str):
    """Run the sweeper (beat's job; beat is not started by the fixtures) until ``predicate()``
    is truthy. The sweeper queues to the real broker, so a real worker does the work."""
    from integrations.services.sweeper import sweep_due_work

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        sweep_due_work()
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    pytest.fail(f"timed out after {timeout:.0f} s waiting for {message}")


def effects_per_key(system_slug: str = "erp") -> Counter:
    """How many effects the sandbox peer holds per idempotency key (the checker: lost = keys
    missing, doubled = counts above 1)."""
    from integrations.models import SandboxRecord

    return Counter(
        SandboxRecord.objects.filter(system__slug=system_slug).values_list(
            "idempotency_key", flat=True
        )
    )


def created_calls_per_key(system_slug: str = "erp") -> Counter:
    """Raw calls of the peer that stored a new effect, per key (each key must appear once)."""
    from integrations.models import SandboxCall

    return Counter(
        SandboxCall.objects.filter(system__slug=system_slug, outcome="created").values_list(
            "idempotency_key", flat=True
        )
    )


def set_erp_faults(**faults) -> None:
    """Store sandbox faults on the ERP system, as `manage.py sandbox` or the admin would (a
    queryset update); workers read the system row afresh for every message."""
    from integrations.models import ExternalSystem

    ExternalSystem.objects.filter(slug="erp").update(settings={"sandbox": faults})


def outbox_statuses() -> dict[str, int]:
    from integrations.models import OutboxMessage

    return dict(Counter(OutboxMessage.objects.values_list("status", flat=True)))
