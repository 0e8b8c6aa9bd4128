"""Formatting only: short durations for dense queue tables ("3 h", "2 d") and an exception
type's title in words ("Rate differs" for ``rate_mismatch``)."""

from datetime import datetime

from django import template
from django.utils import timezone

from exceptions_queue.registry import exception_types

register = template.Library()

UNITS = ((86400, "d"), (3600, "h"), (60, "min"))  # seconds per unit, largest first


def _short(seconds: float) -> str:
    seconds = abs(seconds)
    for size, unit in UNITS:
        if seconds >= size:
            return f"{int(seconds // size)} {unit}"
    return "now"


@register.filter
def age(moment: datetime | None) -> str:
    """How long ago, in the largest whole unit: "3 h"."""
    return "" if moment is None else _short((timezone.now() - moment).total_seconds())


@register.filter
def remaining(moment: datetime | None) -> str:
    """How long until (or, past it, since) ``moment``, in the largest whole unit."""
    return "" if moment is None else _short((moment - timezone.now()).total_seconds())


@register.filter
def type_title(type_code: str) -> str:
    """The registered title of an exception type; the code itself if none is registered."""
    exception_type = exception_types.get(type_code)
    return exception_type.title if exception_type is not None else type_code
