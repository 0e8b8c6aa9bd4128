"""Dates that exist (docs/contract.md §1): read after the schema of an event's data.

The schemas (integrations/connectors/schemas.py) let "2026-02-30" and "2026-13-01T00:00:00Z"
through: they check shapes, and jsonschema asserts no format. The handlers read dates with
``date.fromisoformat`` / ``parse_date`` and date-times with ``parse_datetime``, which raise or
give None for those, so such an event went dead after five attempts. ``calendar_errors`` reads
each date and date-time field of an event's data the same way at receive time (a 422 naming
the field), one direct lookup per field found in the schema (no walk of the data); a date-time
must also be one UTC can hold (it is stored in UTC).
"""

from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime

from django.utils import timezone
from django.utils.dateparse import parse_datetime

from integrations.connectors.schemas import DATA_SCHEMAS


def _shown(value: str) -> str:
    return repr(value if len(value) <= 40 else value[:40] + "…")


def read_datetime(value: str) -> tuple[datetime | None, str]:
    """(the date-time, "") when ``value`` reads as one Django stores, else (None, why)."""
    try:
        parsed = parse_datetime(value)
    except ValueError as exc:  # well formed but impossible: 2026-02-30, +99:00
        return None, f"{_shown(value)} is not a date-time that exists ({exc})"
    if parsed is None:
        return None, f"{_shown(value)} is not an ISO 8601 date-time"
    try:  # stored in UTC: 0001-01-01T00:00:00+05:00 is out of range
        aware = parsed if parsed.tzinfo is not None else timezone.make_aware(parsed)
        aware.astimezone(UTC)
    except (OverflowError, ValueError):
        return None, f"{_shown(value)} is outside the range of date-times that can be stored"
    return parsed, ""


def _date_problem(value: str) -> str:
    try:
        date.fromisoformat(value)
    except ValueError as exc:
        return f"{_shown(value)} is not a date that exists ({exc})"
    return ""


_CALENDAR_READERS = {"date": _date_problem, "date-time": lambda value: read_datetime(value)[1]}
# (path of names and "*" for every item of a list, reader) per field whose schema names a format.
CalendarField = tuple[tuple[str, ...], Callable[[str], str]]


def _calendar_fields(schema: dict, path: tuple[str, ...] = ()) -> list[CalendarField]:
    found: list[CalendarField] = []
    if schema.get("format") in _CALENDAR_READERS:
        found.append((path, _CALENDAR_READERS[schema["format"]]))
    for sub in schema.get("anyOf", ()):
        found.extend(_calendar_fields(sub, path))
    for name, sub in schema.get("properties", {}).items():
        found.extend(_calendar_fields(sub, (*path, name)))
    if isinstance(schema.get("items"), dict):
        found.extend(_calendar_fields(schema["items"], (*path, "*")))
    return found


_CALENDAR_FIELDS = {name: _calendar_fields(schema) for name, schema in DATA_SCHEMAS.items()}
_SHOWN = {
    path[0]: f"data.{path[0]}" for fields in _CALENDAR_FIELDS.values() for path, _ in fields if path
}


def _calendar_values(value: object, path: tuple[str, ...], shown: str) -> Iterator[tuple[str, str]]:
    """(shown path, string) for every string at ``path`` inside ``value``."""
    if not path:
        if isinstance(value, str):
            yield shown, value
        return
    step, rest = path[0], path[1:]
    if step == "*":
        if isinstance(value, list):
            for index, item in enumerate(value):
                yield from _calendar_values(item, rest, f"{shown}.{index}")
    elif isinstance(value, dict) and step in value:
        yield from _calendar_values(value[step], rest, f"{shown}.{step}")


def calendar_errors(event_type: str, data: object) -> dict[str, list[str]]:
    """Field errors of the dates and date-times in ``data`` that do not exist (``{}``: none).
    Values of another type or shape are left to the schema."""
    errors: dict[str, list[str]] = {}
    for path, problem_of in _CALENDAR_FIELDS.get(event_type, ()):
        if len(path) == 1:  # a top-level field of data (most): one lookup, no generator
            value = data.get(path[0]) if isinstance(data, dict) else None
            found = [(_SHOWN[path[0]], value)] if isinstance(value, str) else []
        else:
            found = list(_calendar_values(data, path, "data"))
        for shown, text in found:
            problem = problem_of(text)
            if problem:
                errors.setdefault(shown, []).append(problem)
    return errors
