"""Per-system circuit breaker, its state shared by every worker through the database.

closed --(N consecutive failures, or error rate over the window)--> open
open --(recovery_seconds passed; one caller gets the probe)--> half_open
half_open --(probe succeeds)--> closed;  --(probe fails)--> open again

Only failures that say the peer is unwell count (RetryableError: timeouts, 5xx). A 429, a
permanent refusal or an auth error is an answer from a healthy peer.
"""

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from integrations.models import CircuitBreaker

logger = logging.getLogger(__name__)

PROBE_LEASE_SECONDS = 60  # a probe that has not reported after this long is presumed lost


@dataclass(frozen=True)
class Permit:
    allowed: bool
    retry_at: datetime | None = None
    is_probe: bool = False


def _locked(system_id: int) -> CircuitBreaker:
    CircuitBreaker.objects.get_or_create(system_id=system_id)
    return CircuitBreaker.objects.select_for_update().get(system_id=system_id)


def is_closed(*, system_id: int) -> bool:
    """A plain read, no lock: it can be stale by a moment, exactly like a call that was already
    in flight when the breaker opened. (The locked path on every message serialised all
    workers on this row: `make bench`.)"""
    state = (
        CircuitBreaker.objects.filter(system_id=system_id).values_list("state", flat=True).first()
    )
    return state == CircuitBreaker.State.CLOSED


def acquire_permit(*, system_id: int) -> Permit:
    """May we call this system now? Open breakers defer; half-open lets a single probe through."""
    if is_closed(system_id=system_id):  # fast path: a closed breaker lets the call through
        return Permit(allowed=True)
    return _acquire_permit_locked(system_id)


@transaction.atomic
def _acquire_permit_locked(system_id: int) -> Permit:
    breaker = _locked(system_id)
    now = timezone.now()
    if breaker.state == CircuitBreaker.State.CLOSED:
        return Permit(allowed=True)
    reopen_at = (breaker.opened_at or now) + timedelta(seconds=breaker.recovery_seconds)
    if breaker.paused_until and breaker.paused_until > reopen_at:
        reopen_at = breaker.paused_until  # the peer's quota is spent: no probe before then
    if breaker.state == CircuitBreaker.State.OPEN and now < reopen_at:
        return Permit(allowed=False, retry_at=reopen_at)
    probe_busy = breaker.probe_started_at and now < breaker.probe_started_at + timedelta(
        seconds=PROBE_LEASE_SECONDS
    )
    if breaker.state == CircuitBreaker.State.HALF_OPEN and probe_busy:
        return Permit(
            allowed=False, retry_at=now + timedelta(seconds=max(1, breaker.recovery_seconds // 2))
        )
    CircuitBreaker.objects.filter(pk=breaker.pk).update(
        state=CircuitBreaker.State.HALF_OPEN, probe_started_at=now, changed_at=now
    )
    logger.info("breaker.half_open", extra={"system_id": system_id})
    return Permit(allowed=True, is_probe=True)


def _roll_window(breaker: CircuitBreaker, now: datetime) -> tuple[datetime, int, int]:
    started = breaker.window_started_at
    if not started or now - started > timedelta(seconds=breaker.window_seconds):
        return now, 0, 0
    return started, breaker.window_calls, breaker.window_failures


def record_success(*, system_id: int, calls: int = 1) -> None:
    """Count ``calls`` successful calls (a batch of messages counts its successes at once)."""
    # Fast path: closed and inside its error-rate window, a success only resets the consecutive
    # count and counts a call: one conditional UPDATE, no lock. If the row changed meanwhile
    # (the window rolled over, the breaker opened), the locked path below decides.
    now = timezone.now()
    row = (
        CircuitBreaker.objects.filter(system_id=system_id)
        .values("state", "window_started_at", "window_seconds")
        .first()
    )
    if (
        row
        and row["state"] == CircuitBreaker.State.CLOSED
        and row["window_started_at"]
        and now - row["window_started_at"] <= timedelta(seconds=row["window_seconds"])
        and CircuitBreaker.objects.filter(
            system_id=system_id,
            state=CircuitBreaker.State.CLOSED,
            window_started_at=row["window_started_at"],
        ).update(consecutive_failures=0, window_calls=F("window_calls") + calls)
    ):
        return
    _record_success_locked(system_id, calls)


@transaction.atomic
def _record_success_locked(system_id: int, calls: int = 1) -> None:
    breaker = _locked(system_id)
    now = timezone.now()
    started, window_calls, failures = _roll_window(breaker, now)
    changes = {
        "consecutive_failures": 0,
        "window_started_at": started,
        "window_calls": window_calls + calls,
        "window_failures": failures,
    }
    paused = breaker.paused_until is not None and breaker.paused_until > now
    if breaker.state != CircuitBreaker.State.CLOSED and not paused:
        # (A call that was in flight when the peer paused us succeeds: it does not lift the
        # pause. The probe after it does.)
        changes.update(
            state=CircuitBreaker.State.CLOSED,
            opened_at=None,
            probe_started_at=None,
            paused_until=None,
            changed_at=now,
            window_started_at=now,
            window_calls=calls,
            window_failures=0,
        )
        logger.info("breaker.closed", extra={"system_id": system_id})
    CircuitBreaker.objects.filter(pk=breaker.pk).update(**changes)


@transaction.atomic
def record_failure(*, system_id: int, error: str) -> str:
    """Count a failure; returns the breaker state afterwards."""
    breaker = _locked(system_id)
    now = timezone.now()
    started, calls, failures = _roll_window(breaker, now)
    consecutive = breaker.consecutive_failures + 1
    calls, failures = calls + 1, failures + 1
    rate_tripped = calls >= breaker.min_calls_in_window and failures / calls >= float(
        breaker.error_rate_threshold
    )
    should_open = (
        breaker.state == CircuitBreaker.State.HALF_OPEN
        or consecutive >= breaker.failure_threshold
        or rate_tripped
    )
    changes = {
        "consecutive_failures": consecutive,
        "window_started_at": started,
        "window_calls": calls,
        "window_failures": failures,
        "last_failure": error[:2000],
    }
    state = breaker.state
    if should_open:
        state = CircuitBreaker.State.OPEN
        changes.update(state=state, opened_at=now, probe_started_at=None)
        if breaker.state != CircuitBreaker.State.OPEN:
            changes["changed_at"] = now
            logger.warning(
                "breaker.opened", extra={"system_id": system_id, "consecutive": consecutive}
            )
    CircuitBreaker.objects.filter(pk=breaker.pk).update(**changes)
    return state


@transaction.atomic
def pause(*, system_id: int, seconds: float, reason: str) -> CircuitBreaker:
    """Open the breaker for at least ``seconds``: the peer answered that its quota is spent
    (Salesforce's REQUEST_LIMIT_EXCEEDED). Every message waits (deferred, never called) until
    then; one probe goes first after it. Not a failure of the peer: counts are left alone."""
    breaker = _locked(system_id)
    now = timezone.now()
    until = now + timedelta(seconds=seconds)
    changes: dict = {"paused_until": until, "last_failure": reason[:2000]}
    if breaker.state != CircuitBreaker.State.OPEN:
        changes.update(state=CircuitBreaker.State.OPEN, opened_at=now, changed_at=now)
        logger.warning("breaker.paused", extra={"system_id": system_id, "seconds": seconds})
    changes["probe_started_at"] = None
    CircuitBreaker.objects.filter(pk=breaker.pk).update(**changes)
    breaker.refresh_from_db()
    return breaker


@transaction.atomic
def force_state(*, system_id: int, state: str) -> CircuitBreaker:
    """Open or close a breaker by hand (admin, API, runbook)."""
    breaker = _locked(system_id)
    now = timezone.now()
    CircuitBreaker.objects.filter(pk=breaker.pk).update(
        state=state,
        opened_at=now if state == CircuitBreaker.State.OPEN else None,
        consecutive_failures=0,
        probe_started_at=None,
        paused_until=None,
        changed_at=now,
    )
    breaker.refresh_from_db()
    return breaker
