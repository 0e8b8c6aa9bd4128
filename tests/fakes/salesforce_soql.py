"""Just enough SOQL for the fake org: ``SELECT f1, f2 FROM <SObject>`` with an optional
``WHERE`` of conditions joined by ``AND`` (``Field IN ('a', 'b')`` or ``Field <op> literal``,
op one of = != > >= < <=; literals quoted strings, datetimes like 2026-12-04T10:00:00Z, numbers,
true/false/null), an optional ``ORDER BY Field [ASC|DESC]`` and ``LIMIT n``. Anything else is
refused as a malformed query; no relationship paths, no functions, no OR.
"""

import re
from datetime import datetime
from typing import Any

from tests.fakes.salesforce_store import Store, to18

QUERY = re.compile(
    r"^\s*SELECT\s+(?P<fields>.+?)\s+FROM\s+(?P<sobject>\w+)"
    r"(?:\s+WHERE\s+(?P<where>.+?))?"
    r"(?:\s+ORDER\s+BY\s+(?P<order>\w+)(?:\s+(?P<direction>ASC|DESC))?)?"
    r"(?:\s+LIMIT\s+(?P<limit>\d+))?\s*$",
    re.IGNORECASE | re.DOTALL,
)
CONDITION = re.compile(
    r"^\s*(?P<field>\w+)\s*(?:(?P<op>=|!=|>=|<=|>|<)\s*(?P<literal>'(?:[^'\\]|\\.)*'|[^\s()']+)"
    r"|\s+IN\s*\((?P<items>[^)]*)\))\s*$",
    re.IGNORECASE,
)
DATETIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:?\d\d)$")
NUMBER = re.compile(r"^-?\d+(\.\d+)?$")
ITEM = re.compile(r"\s*('(?:[^'\\]|\\.)*'|[^,\s]+)\s*(?:,|$)")
OPERATORS = {
    "=": lambda a, b: a == b,
    "!=": lambda a, b: a != b,
    ">": lambda a, b: a > b,
    ">=": lambda a, b: a >= b,
    "<": lambda a, b: a < b,
    "<=": lambda a, b: a <= b,
}


class SoqlError(ValueError):
    pass


def literal(text: str) -> Any:
    if text.startswith("'"):
        return re.sub(r"\\(.)", r"\1", text[1:-1])
    lowered = text.lower()
    if lowered in ("true", "false"):
        return lowered == "true"
    if lowered == "null":
        return None
    if DATETIME.match(text):
        return datetime.fromisoformat(text)
    if NUMBER.match(text):
        return float(text)
    raise SoqlError(f"unexpected token: '{text}'")


def comparable(value: Any, like: Any) -> Any:
    """A stored value in the type of the literal it is compared with (None stays None)."""
    if value is None or like is None or isinstance(like, bool):
        return value
    if isinstance(like, datetime):
        return datetime.fromisoformat(str(value))
    if isinstance(like, float):
        return float(value)
    return str(value)


def condition(text: str):
    """A predicate on a record for one condition."""
    found = CONDITION.match(text)
    if not found:
        raise SoqlError(f"unsupported condition: {text.strip()}")
    name = found["field"]
    if found["items"] is not None:
        wanted = [literal(item) for item in ITEM.findall(found["items"])]
        if name == "Id":
            wanted = [to18(str(item)) for item in wanted]
        return lambda record: record.get(name) in wanted
    operand, compare = literal(found["literal"]), OPERATORS[found["op"]]
    if name == "Id" and isinstance(operand, str):
        operand = to18(operand)

    def predicate(record: dict) -> bool:
        value = comparable(record.get(name), operand)
        if value is None or operand is None:
            return compare(value, operand) if found["op"] in ("=", "!=") else False
        return compare(value, operand)

    return predicate


def _sort_key(field_name: str):
    def key(record: dict) -> tuple:
        value = record.get(field_name)
        return (value is None, value if isinstance(value, int | float) else str(value or ""))

    return key


def run(
    store: Store, soql: str, *, include_deleted: bool = False
) -> tuple[str, list[tuple[str, dict]]]:
    """(the object queried, [(id, the selected fields)] of the matching records)."""
    parsed = QUERY.match(soql or "")
    if not parsed:
        raise SoqlError("unsupported or malformed query")
    sobject = parsed["sobject"]
    fields = [name.strip() for name in parsed["fields"].split(",")]
    if not all(re.fullmatch(r"\w+", name) for name in fields):
        raise SoqlError("only plain field names can be selected")
    where = re.split(r"\s+AND\s+", parsed["where"], flags=re.IGNORECASE) if parsed["where"] else []
    predicates = [condition(part) for part in where]
    rows = [{**record, "IsDeleted": False} for record in store.table(sobject).values()]
    if include_deleted:
        rows += [
            {**record, "IsDeleted": True} for record in store.deleted.get(sobject, {}).values()
        ]
    rows = [record for record in rows if all(predicate(record) for predicate in predicates)]
    if parsed["order"]:
        rows.sort(key=_sort_key(parsed["order"]))
        if (parsed["direction"] or "").upper() == "DESC":
            rows.reverse()
    if parsed["limit"]:
        rows = rows[: int(parsed["limit"])]
    return sobject, [(record["Id"], {name: record.get(name) for name in fields}) for record in rows]
