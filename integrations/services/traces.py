"""One trace id follows the work: request → inbox row → Celery task → records → outbox → exceptions.

The id lives in a contextvar and is always one of ours (``new_trace_id``). The middleware
(integrations/middleware.py) starts a new trace per request, whatever the client sends: a
client's ``X-Request-ID`` never becomes, or joins, a trace. A well-formed one (at most 200
printable characters) is kept beside it as the client's correlation id, a second contextvar
stamped on every step the request itself records (``TraceStep.client_request_id``, shown by
the trace page and API). The webhook receiver starts a new trace per accepted event; Celery
carries the trace id in a task header (integrations/handlers.py) and tasks restore it from the
row they load. The correlation id is deliberately not carried to workers: a worker applies and
sends batches gathered from many requests (the doorbells), so it would land on other clients'
steps.

The models are imported inside the functions that write steps, deliberately: the log filter in
integrations/middleware.py reads the trace id through this module while Django configures
logging, before the app registry is ready (no import circle is involved).
"""

import contextlib
import contextvars
import uuid
from collections.abc import Iterator, Sequence
from datetime import datetime
from typing import TYPE_CHECKING

from django.db import models
from django.utils import timezone

if TYPE_CHECKING:  # imported inside the functions at run time (see above)
    from integrations.models import TraceStep

_trace_id: contextvars.ContextVar[str] = contextvars.ContextVar("trace_id", default="")
# The client's X-Request-ID of the request this work is for ("" when none was kept).
_client_request_id: contextvars.ContextVar[str] = contextvars.ContextVar(
    "client_request_id", default=""
)
# Steps recorded inside collect_trace_steps(), written by one INSERT at the end of that block.
_collected: contextvars.ContextVar[list["TraceStep"] | None] = contextvars.ContextVar(
    "trace_steps_collected", default=None
)


def new_trace_id() -> str:
    return uuid.uuid4().hex


def get_trace_id() -> str:
    return _trace_id.get()


def current_or_new_trace_id() -> str:
    return _trace_id.get() or new_trace_id()


@contextlib.contextmanager
def use_trace(trace_id: str, *, client_request_id: str | None = None) -> Iterator[str]:
    """Run a block under ``trace_id`` and restore the previous one afterwards. The client's
    correlation id is set too when given, else the current one is kept (a trace started
    inside a request still belongs to that request)."""
    token = _trace_id.set(trace_id)
    client_token = (
        _client_request_id.set(client_request_id) if client_request_id is not None else None
    )
    try:
        yield trace_id
    finally:
        if client_token is not None:
            _client_request_id.reset(client_token)
        _trace_id.reset(token)


def set_trace_id(trace_id: str) -> None:
    _trace_id.set(trace_id)


def get_client_request_id() -> str:
    return _client_request_id.get()


def set_client_request_id(value: str) -> None:
    _client_request_id.set(value)


@contextlib.contextmanager
def collect_trace_steps() -> Iterator[list["TraceStep"]]:
    """Within this block, recorded steps are kept and written together by one INSERT when the
    block ends without an exception (dropped otherwise, like the transaction they belong to).

    Use it inside a transaction, around work that records many steps (a batch of events or
    messages: one INSERT instead of one per step, `make bench`). Steps keep their own ``at``,
    so the trace reads in the same order as if each had been written at once. A step recorded
    inside a savepoint that rolls back while the block goes on is kept: record a step after
    the work it describes, as the code does everywhere.
    """
    steps: list[TraceStep] = []
    token = _collected.set(steps)
    try:
        yield steps
    finally:
        _collected.reset(token)
    if steps:
        _insert_steps(steps)


def _insert_steps(steps: list["TraceStep"]) -> None:
    """One INSERT of built steps."""
    from integrations.models import TraceStep

    TraceStep.objects.bulk_create(steps)


def build_trace_step(
    *,
    kind: str,
    action: str,
    summary: str,
    subject: models.Model | None = None,
    detail: dict | None = None,
    trace_id: str | None = None,
    at: datetime | None = None,
) -> "TraceStep | None":
    """An unsaved step of the current trace (None when there is none); ``at`` defaults to now."""
    from django.contrib.contenttypes.models import ContentType

    from integrations.models import TraceStep

    trace_id = trace_id or _trace_id.get()
    if not trace_id:
        return None
    return TraceStep(
        trace_id=trace_id,
        at=at or timezone.now(),
        kind=kind,
        action=action,
        summary=summary[:300],
        content_type=ContentType.objects.get_for_model(subject) if subject is not None else None,
        object_id=str(subject.pk) if subject is not None else "",
        detail=detail or {},
        client_request_id=_client_request_id.get(),
    )


def record_trace_step(
    *,
    kind: str,
    action: str,
    summary: str,
    subject: models.Model | None = None,
    detail: dict | None = None,
    trace_id: str | None = None,
    at: datetime | None = None,
) -> None:
    """Add one step to the current trace (no-op when there is none). ``at`` defaults to now."""
    step = build_trace_step(
        kind=kind,
        action=action,
        summary=summary,
        subject=subject,
        detail=detail,
        trace_id=trace_id,
        at=at,
    )
    record_trace_steps([step])


def record_trace_steps(steps: Sequence["TraceStep | None"]) -> None:
    """Write built steps (None entries skipped): kept for the INSERT of collect_trace_steps()
    when inside one, else one INSERT (``save`` for a single step)."""
    built = [step for step in steps if step is not None]
    collected = _collected.get()
    if collected is not None:
        collected.extend(built)
    elif len(built) == 1:
        built[0].save(force_insert=True)
    elif built:
        _insert_steps(built)


def record_touched(
    obj: models.Model, *, action: str, summary: str | None = None, detail: dict | None = None
) -> None:
    """Record that the current trace wrote ``obj`` (created, updated, deleted …)."""
    record_trace_step(
        kind="record",
        action=action,
        summary=summary or f"{obj._meta.verbose_name} {obj}",
        subject=obj,
        detail=detail,
    )
