"""The differences between two JSON documents, as a person reads them: one row per value that
changed, was added or was removed, with its path (``lines.0.amount``)."""

from typing import Any

MISSING = "(absent)"


def _flat(value: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(value, dict):
        out: dict[str, Any] = {}
        for key, item in value.items():
            out.update(_flat(item, f"{prefix}{key}."))
        return out or {prefix.rstrip("."): {}}
    if isinstance(value, list):
        out = {}
        for index, item in enumerate(value):
            out.update(_flat(item, f"{prefix}{index}."))
        return out or {prefix.rstrip("."): []}
    return {prefix.rstrip("."): value}


def differences(before: Any, after: Any) -> list[dict[str, Any]]:
    """``[{"path", "before", "after"}]`` in path order; empty when the documents are equal."""
    old, new = _flat(before), _flat(after)
    rows = []
    for path in sorted(set(old) | set(new)):
        a, b = old.get(path, MISSING), new.get(path, MISSING)
        if a != b:
            rows.append({"path": path, "before": a, "after": b})
    return rows
