"""Writes of the exception queues. Import from here: ``from exceptions_queue.services import ...``.

``items`` raises, releases and resolves items for the workflows; ``actions`` is what people do
with them; ``notifications`` tells subscribers; ``errors`` are the typed refusals."""

from exceptions_queue.services.actions import (
    apply_bulk_operation,
    assign_exception_item,
    comment_on_exception_item,
    dismiss_exception_item,
    resolve_exception_item,
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
    "dismiss_exception_item",
    "raise_exception_item",
    "release_member",
    "resolve_exception_item",
    "resolve_items_automatically",
]
