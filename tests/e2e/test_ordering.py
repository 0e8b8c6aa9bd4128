"""Per-object ordering under faults (docs/reliability.md's chaos suite, "per-object ordering"):
signed HTTP → live server → broker → a real worker process → sandbox ERP, with the order in
which the sandbox stored each entry's effects checked. Moved out of test_reliability.py.

On CI: PostgreSQL + Redis. Locally without them: SQLite + kombu's filesystem transport.
"""

import json
import random
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import pytest

from integrations.models import CircuitBreaker, InboundEvent, OutboxMessage
from tests.e2e.support import (
    effects_per_key,
    outbox_statuses,
    post_signed,
    set_erp_faults,
    sweep_until,
)
from tests.helpers import envelope, time_entry_data

# The worker loads tests/e2e/plugins.py: a runtime-only handler of approvals (one ERP effect
# each), as in test_reliability.py.
PLUGINS = ("--include", "tests.e2e.plugins")

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True), pytest.mark.timeout(120)]


def _post_shuffled_approvals(url: str, secret: str, base: datetime) -> list:
    """Three approvals of each of 20 entries (the k-th approved at ``base`` + k minutes), posted
    in a shuffled order from 8 threads; the responses."""
    jobs = []
    for n in range(20):
        for k in range(3):
            at = base + timedelta(minutes=k)
            data = time_entry_data(time_entry_id=f"ORD-{n}", approved_at=at.isoformat())
            body = json.dumps(envelope("psa.time_entry.approved", data, timestamp=at)).encode()
            jobs.append((f"msg_ord_{n}_{k}", body))
    random.Random(7).shuffle(jobs)
    with ThreadPoolExecutor(max_workers=8) as pool:
        return list(pool.map(lambda job: post_signed(url, secret, job[1], job[0]), jobs))


def _erp_approval_times_per_entry() -> dict[str, list[str]]:
    """Entry → the approval times of its effects, in the order the ERP stored them."""
    from integrations.models import SandboxRecord

    seen: dict[str, list[str]] = {}
    for key in SandboxRecord.objects.filter(system__slug="erp").values_list(
        "idempotency_key", flat=True
    ):  # in the order the ERP stored them
        _, entry, approved_at = key.split(":", 2)
        seen.setdefault(entry, []).append(approved_at)
    return seen


def test_effects_on_one_object_keep_their_order_through_retries(live_server, systems, start_worker):
    """Three successive approvals of each of 20 entries, posted shuffled from 8 threads, with
    20% of ERP calls failing: per entry, the ERP sees its effects in approval order (out-of-order
    pairs = 0), the newest approval always reaches it, and each effect once. (An older approval
    that arrives after a newer one is superseded by the inbox and sends nothing.)"""
    CircuitBreaker.objects.filter(system__slug="erp").update(failure_threshold=1000)
    set_erp_faults(error_rate=0.2)
    worker = start_worker(args=PLUGINS, OUTBOX_BACKOFF_BASE_SECONDS="0.2")
    base = datetime(2026, 11, 3, 9, 0, tzinfo=UTC)
    codes = _post_shuffled_approvals(live_server.url, systems["psa"][1], base)
    assert {response.status_code for response in codes} == {202}

    newest = {
        f"erp.time_entry.record:ORD-{n}:{(base + timedelta(minutes=2)).isoformat()}"
        for n in range(20)
    }

    def settled():
        unsent = OutboxMessage.objects.exclude(status=OutboxMessage.Status.SENT).exists()
        return not unsent and newest <= set(effects_per_key())

    sweep_until(
        settled,
        timeout=75,
        message=f"the newest approval of every entry delivered ({outbox_statuses()})\n"
        + worker.log_tail(),
    )
    seen = _erp_approval_times_per_entry()
    out_of_order = sum(
        1 for times in seen.values() for a, b in zip(times, times[1:], strict=False) if a >= b
    )
    assert out_of_order == 0, seen
    assert set(effects_per_key().values()) == {1}
    assert len(seen) == 20
    superseded = InboundEvent.objects.filter(status=InboundEvent.Status.SUPERSEDED).count()
    assert superseded + sum(len(times) for times in seen.values()) == 60
    print(
        f"[e2e] {superseded} approvals superseded on arrival; {60 - superseded} delivered in order"
    )
