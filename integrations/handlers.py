"""Signal receivers of the runtime, connected in IntegrationsConfig.ready().

- Celery: carry the trace id across tasks, a header on publish, the contextvar on the worker;
- Django: a saved or deleted system or webhook secret clears the receiver's per-process cache.
"""

from integrations.services.inbox.receive import forget_cached_systems
from integrations.services.traces import get_trace_id, set_trace_id


def add_trace_header(headers=None, **_kwargs) -> None:
    trace_id = get_trace_id()
    if headers is not None and trace_id:
        headers["trace_id"] = trace_id


def restore_trace(task=None, **_kwargs) -> None:
    set_trace_id(getattr(task.request, "trace_id", None) or "" if task else "")


def clear_trace(**_kwargs) -> None:
    set_trace_id("")


def forget_systems(**_kwargs) -> None:
    forget_cached_systems()
