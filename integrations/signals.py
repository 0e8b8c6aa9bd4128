"""Carry the trace id across Celery: a header on publish, the contextvar on the worker."""

from integrations.traces import get_trace_id, set_trace_id


def add_trace_header(headers=None, **_kwargs) -> None:
    trace_id = get_trace_id()
    if headers is not None and trace_id:
        headers["trace_id"] = trace_id


def restore_trace(task=None, **_kwargs) -> None:
    set_trace_id(getattr(task.request, "trace_id", None) or "" if task else "")


def clear_trace(**_kwargs) -> None:
    set_trace_id("")
