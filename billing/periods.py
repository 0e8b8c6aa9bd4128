"""Billing periods as text: ``YYYY-MM`` is the first day of a month (forms, filters, commands)."""

from datetime import date


def period_from_text(text: str) -> date:
    """``YYYY-MM`` → the first day of that month (ValueError otherwise)."""
    year, month = str(text).split("-")
    if len(year) != 4 or len(month) != 2:
        raise ValueError(f"period {text!r} is not YYYY-MM")
    return date(int(year), int(month), 1)
