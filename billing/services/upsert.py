"""Get-or-update of one reference row by its natural key (``billing.services.reference``)."""

from typing import Any, TypeVar

from django.db import models

from billing.services.history import set_change_reason

M = TypeVar("M", bound=models.Model)


def _same(current: Any, wanted: Any) -> bool:
    if isinstance(current, models.Model) or isinstance(wanted, models.Model):
        return getattr(current, "pk", None) == getattr(wanted, "pk", None)
    return current == wanted


def upsert(model: type[M], *, lookup: dict[str, Any], values: dict[str, Any]) -> tuple[M, str]:
    """Get the row by ``lookup`` and set ``values``; saves only a new or changed row.

    Returns (row, "created" | "updated" | "unchanged"). Raises ValidationError (full_clean).
    """
    # The models loaded here have one manager, ``objects``: it is their default manager.
    row = model._default_manager.filter(**lookup).first()
    if row is not None and all(_same(getattr(row, k), v) for k, v in values.items()):
        return row, "unchanged"
    outcome = "updated" if row is not None else "created"
    row = row or model(**lookup)
    for name, value in values.items():
        setattr(row, name, value)
    set_change_reason(row, "load_reference")
    row.full_clean()
    row.save()
    return row, outcome
