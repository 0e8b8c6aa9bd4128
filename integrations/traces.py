"""One trace id follows the work: request → inbox row → Celery task → records → outbox → exceptions.

The id lives in a contextvar. The middleware sets it from ``X-Request-ID`` (or a new one) for
ordinary requests; the webhook receiver starts a new trace per accepted event; Celery carries it
in a task header; tasks restore it from the row they load.
"""

import contextlib
import contextvars
import logging
import re
import uuid
from collections.abc import Iterator

from django.db import models
from django.utils import timezone

_trace_id: contextvars.ContextVar[str] = contextvars.ContextVar("trace_id", default="")
# Steps recorded inside collect_trace_steps(), written by one INSERT at the end of that block.
_collected: contextvars.ContextVar[list | None] = contextvars.ContextVar(
    "trace_steps_collected", default=None
)
_VALID = re.compile(r"^[0-9a-fA-F-]{8,36}$")


def new_trace_id() -> str:
    return uuid.uuid4().hex


def get_trace_id() -> str:
    return _trace_id.get()


def current_or_new_trace_id() -> str:
    return _trace_id.get() or new_trace_id()


@contextlib.contextmanager
def use_trace(trace_id: str) -> Iterator[str]:
    """Run a block under ``trace_id`` and restore the previous one afterwards."""
    token = _trace_id.set(trace_id)
    try:
        yield trace_id
    finally:
        _trace_id.reset(token)


def set_trace_id(trace_id: str) -> None:
    _trace_id.set(trace_id)


class TraceIdFilter(logging.Filter):
    """Stamps the current trace id on every log record."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.trace_id = _trace_id.get()
        return True


class TraceMiddleware:
    """Takes ``X-Request-ID`` (when it looks like an id) or makes a new trace id per request."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        header = request.headers.get("X-Request-ID", "")
        trace_id = header.replace("-", "").lower() if _VALID.match(header) else new_trace_id()
        with use_trace(trace_id):
            response = self.get_response(request)
            response["X-Trace-ID"] = get_trace_id() or trace_id
        return response


@contextlib.contextmanager
def collect_trace_steps() -> Iterator[list]:
    """Within this block, recorded steps are kept and written together by one INSERT when the
    block ends without an exception (dropped otherwise, like the transaction they belong to).

    Use it inside a transaction, around work that records many steps (a batch of events or
    messages: one INSERT instead of one per step, `make bench`). Steps keep their own ``at``,
    so the trace reads in the same order as if each had been written at once. A step recorded
    inside a savepoint that rolls back while the block goes on is kept: record a step after
    the work it describes, as the code does everywhere.
    """
    steps: list = []
    token = _collected.set(steps)
    try:
        yield steps
    finally:
        _collected.reset(token)
    if steps:
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
    at=None,
):
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
    )


def record_trace_step(
    *,
    kind: str,
    action: str,
    summary: str,
    subject: models.Model | None = None,
    detail: dict | None = None,
    trace_id: str | None = None,
    at=None,
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
    if step is None:
        return
    collected = _collected.get()
    if collected is not None:
        collected.append(step)
    else:
        step.save(force_insert=True)


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
