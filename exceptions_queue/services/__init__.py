"""Writes of the exception queues. Import from here: ``from exceptions_queue.services import ...``.

``items`` raises, releases and resolves items for the workflows; ``actions`` is what people do
with them; ``notifications`` tells subscribers; ``controls`` records the runs of controls
(checks that raise and resolve items); ``errors`` are the typed refusals."""

from exceptions_queue.services.actions import (
    apply_bulk_operation,
    assign_exception_item,
    comment_on_exception_item,
    dismiss_exception_item,
    resolve_exception_item,
)
from exceptions_queue.services.controls import (
    create_control_run,
    fail_control_run,
    finish_control_run,
    record_control_progress,
    record_control_result,
    start_control_run,
)
from exceptions_queue.services.items import (
    AUTO,
    DISMISS,
    raise_exception_item,
    release_member,
    resolve_items_automatically,
)

__all__ = [
    "AUTO",
    "DISMISS",
    "apply_bulk_operation",
    "assign_exception_item",
    "comment_on_exception_item",
    "create_control_run",
    "dismiss_exception_item",
    "fail_control_run",
    "finish_control_run",
    "raise_exception_item",
    "record_control_progress",
    "record_control_result",
    "release_member",
    "resolve_exception_item",
    "resolve_items_automatically",
    "start_control_run",
]
