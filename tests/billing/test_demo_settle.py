"""The demo load waits for its work as long as the work moves, and gives up only when it stops."""

from datetime import UTC, datetime

import pytest

from billing.demo import delivery
from billing.demo.delivery import DemoLoadFailed, settle
from integrations.models import InboundEvent

pytestmark = pytest.mark.django_db


def _pending(system, count: int) -> None:
    for n in range(count):
        InboundEvent.objects.create(
            system=system,
            webhook_id=f"msg_settle_{n}",
            event_type="psa.time_entry.approved",
            status=InboundEvent.Status.RECEIVED,
            received_at=datetime.now(tz=UTC),
            raw_body="{}",
        )


def test_a_slow_step_that_keeps_moving_is_waited_for_past_the_timeout(systems, monkeypatch):
    _pending(systems["psa"][0], 6)
    clock = {"now": 0.0}
    monkeypatch.setattr(delivery, "_clock", lambda: clock["now"])

    def sleep(_seconds):  # each poll: 1 s passes and one more event is applied
        clock["now"] += 1.0
        first = InboundEvent.objects.filter(status=InboundEvent.Status.RECEIVED).first()
        if first is not None:
            InboundEvent.objects.filter(pk=first.pk).update(status=InboundEvent.Status.PROCESSED)

    monkeypatch.setattr(delivery, "_pause", sleep)
    settle("slow work", outbox=False, timeout=2.5)  # 6 s in all, never 2.5 s without progress
    assert clock["now"] == 6.0


def test_a_step_that_stops_moving_fails_naming_what_is_pending(systems, monkeypatch):
    _pending(systems["psa"][0], 2)
    clock = {"now": 0.0}
    monkeypatch.setattr(delivery, "_clock", lambda: clock["now"])
    monkeypatch.setattr(delivery, "_pause", lambda s: clock.__setitem__("now", clock["now"] + 1))
    with pytest.raises(DemoLoadFailed, match="no progress for 3 s on stuck work: 2 event"):
        settle("stuck work", outbox=False, timeout=3)
