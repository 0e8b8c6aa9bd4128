"""The reason simple-history records with a customer-master row's next save or delete."""

from typing import Protocol, cast

from django.db import models


class _WithChangeReason(Protocol):
    _change_reason: str


def set_change_reason(obj: models.Model, reason: str) -> None:
    """Give the history row that ``obj``'s next save (or delete) writes its reason.

    simple-history reads ``_change_reason`` off the instance when it writes that row. The
    attribute is declared on no model (and simple-history ships no types), so this is the one
    place that says it exists: a cast to a protocol, no ``setattr`` and no ignore."""
    cast(_WithChangeReason, obj)._change_reason = reason
