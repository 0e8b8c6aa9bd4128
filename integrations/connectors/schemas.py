"""JSON Schemas of the inbound event types of docs/contract.md §1, and each type's source object key.

Decimals travel as strings (``"7.50"``), with at most the places their columns hold (money 3,
rates 4, hours 2: more is a 422 naming the field, not a 202 that fails when applied; an
amount's currency minor units are checked on apply); a JSON number fails the schema. The
keyword ``decimalRange`` bounds such strings (``{"gt": "0", "lte": "24"}``).
"""

import re
from collections.abc import Callable
from decimal import Decimal, InvalidOperation

from jsonschema import Draft202012Validator, ValidationError, validators

MONEY = {"type": "string", "pattern": r"^-?\d{1,17}(\.\d{1,3})?$"}
RATE = {"type": "string", "pattern": r"^\d{1,15}(\.\d{1,4})?$"}
HOURS = {"type": "string", "pattern": r"^\d{1,4}(\.\d{1,2})?$"}
ID = {"type": "string", "minLength": 1, "maxLength": 120}
DATE = {"type": "string", "format": "date", "pattern": r"^\d{4}-\d{2}-\d{2}$"}
DATETIME = {"type": "string", "format": "date-time", "minLength": 10}
COUNTRY = {"type": "string", "pattern": "^[A-Z]{2}$"}
CURRENCY = {"type": "string", "pattern": "^[A-Z]{3}$"}
EMAIL = {"type": "string", "pattern": r"^[^@\s]+@[^@\s]+$"}


def nullable(schema: dict) -> dict:
    return {"anyOf": [schema, {"type": "null"}]}


def obj(required: dict, optional: dict | None = None) -> dict:
    properties = {**required, **(optional or {})}
    return {"type": "object", "required": list(required), "properties": properties}


ADDRESS = obj(
    {"line1": {"type": "string"}, "city": {"type": "string"}, "country": COUNTRY},
    {
        "line2": nullable({"type": "string"}),
        "region": nullable({"type": "string"}),
        "postal_code": nullable({"type": "string"}),
    },
)

DATA_SCHEMAS: dict[str, dict] = {
    "crm.account.upserted": obj(
        {"account_id": ID, "name": {"type": "string", "minLength": 1}, "updated_at": DATETIME},
        {
            "website": nullable({"type": "string"}),
            "industry": nullable({"type": "string"}),
            "phone": nullable({"type": "string"}),
            "parent_account_id": nullable(ID),
            "owner_email": nullable(EMAIL),
            "billing_country": nullable(COUNTRY),
        },
    ),
    "crm.contact.upserted": obj(
        {
            "contact_id": ID,
            "account_id": ID,
            "last_name": {"type": "string"},
            "updated_at": DATETIME,
        },
        {
            "first_name": nullable({"type": "string"}),
            "email": nullable(EMAIL),
            "phone": nullable({"type": "string"}),
            "title": nullable({"type": "string"}),
            "is_billing_contact": {"type": "boolean"},
        },
    ),
    "crm.opportunity.closed_won": obj(
        {
            "opportunity_id": ID,
            "account_id": ID,
            "name": {"type": "string"},
            "close_date": DATE,
            "amount": MONEY,
            "currency": CURRENCY,
            "legal_entity": ID,
            "billing_model": {"enum": ["time_and_materials", "fixed_fee", "retainer"]},
            "start_date": DATE,
            "end_date": DATE,
            "tax_jurisdiction": ID,
            "project_template": ID,
        },
        {
            "rate_card": nullable(ID),
            "not_to_exceed": nullable(MONEY),
            "po_number": nullable({"type": "string"}),
            "payment_terms": nullable({"type": "string"}),
            "milestones": {
                "type": "array",
                "items": obj(
                    {"name": {"type": "string"}, "amount": MONEY}, {"due_date": nullable(DATE)}
                ),
            },
            "retainer": nullable(obj({"monthly_amount": MONEY, "included_hours": HOURS})),
        },
    ),
    "psa.project.updated": obj(
        {
            "project_id": ID,
            "status": {"enum": ["active", "on_hold", "closed"]},
            "phases": {
                "type": "array",
                "items": obj(
                    {"code": ID, "status": {"enum": ["open", "closed"]}},
                    {"name": {"type": "string"}},
                ),
            },
            "updated_at": DATETIME,
        },
        {"opportunity_id": nullable(ID)},
    ),
    "psa.time_entry.approved": obj(
        {
            "time_entry_id": ID,
            "project_id": ID,
            "phase_code": ID,
            "person_email": EMAIL,
            "role": ID,
            "work_date": DATE,
            "hours": {**HOURS, "decimalRange": {"gt": "0", "lte": "24"}},
            "billable": {"type": "boolean"},
            "category": ID,
            "approved_at": DATETIME,
        },
        {
            "bill_rate": nullable({**RATE, "decimalRange": {"gte": "0"}}),
            "notes": nullable({"type": "string"}),
            "approved_by": nullable({"type": "string"}),
        },
    ),
    "psa.time_entry.retracted": obj(
        {"time_entry_id": ID, "retracted_at": DATETIME}, {"reason": nullable({"type": "string"})}
    ),
    "psa.milestone.completed": obj(
        {
            "project_id": ID,
            "milestone_name": {"type": "string", "minLength": 1},
            "completed_on": DATE,
        }
    ),
    "erp.customer.upserted": obj(
        {
            "customer_id": ID,
            "legal_name": {"type": "string", "minLength": 1},
            "legal_entity": ID,
            "updated_at": DATETIME,
        },
        {
            "crm_account_id": nullable(ID),
            "bill_to": nullable(ADDRESS),
            "payment_terms": nullable(ID),
            "currency": nullable(CURRENCY),
            "tax_id": nullable({"type": "string"}),
            "tax_jurisdiction": nullable(ID),
        },
    ),
    "erp.invoice.status_changed": obj(
        {
            "invoice_id": ID,
            "status": {"enum": ["posted", "sent", "partially_paid", "paid", "void"]},
            "total": MONEY,
            "amount_due": MONEY,
            "currency": CURRENCY,
            "changed_at": DATETIME,
        },
        {"number": nullable({"type": "string"})},
    ),
}

# The source object each event is about: events of one object are applied in timestamp order.
OBJECT_KEYS = {
    "crm.account.upserted": lambda d: f"account:{d['account_id']}",
    "crm.contact.upserted": lambda d: f"contact:{d['contact_id']}",
    "crm.opportunity.closed_won": lambda d: f"opportunity:{d['opportunity_id']}",
    "psa.project.updated": lambda d: f"project:{d['project_id']}",
    "psa.time_entry.approved": lambda d: f"time_entry:{d['time_entry_id']}",
    "psa.time_entry.retracted": lambda d: f"time_entry:{d['time_entry_id']}",
    "psa.milestone.completed": lambda d: f"milestone:{d['project_id']}:{d['milestone_name']}",
    "erp.customer.upserted": lambda d: f"customer:{d['customer_id']}",
    "erp.invoice.status_changed": lambda d: f"invoice:{d['invoice_id']}",
}

ENVELOPE_SCHEMA = {
    "type": "object",
    "required": ["type", "timestamp", "data"],
    "properties": {"type": {"type": "string"}, "timestamp": DATETIME, "data": {"type": "object"}},
}


def _decimal_range(validator, bounds, instance, schema):
    if not isinstance(instance, str):
        return
    try:
        value = Decimal(instance)
    except InvalidOperation:
        return  # the pattern reports it
    if not value.is_finite():
        return  # "NaN", "Infinity": the pattern reports it (comparing a NaN would raise)
    checks = {
        "gt": (lambda b: value > b, "greater than"),
        "gte": (lambda b: value >= b, "at least"),
        "lt": (lambda b: value < b, "less than"),
        "lte": (lambda b: value <= b, "at most"),
    }
    for name, bound in bounds.items():
        test, words = checks[name]
        if not test(Decimal(bound)):
            yield ValidationError(f"{instance!r} must be {words} {bound}")


_Validator = validators.extend(Draft202012Validator, {"decimalRange": _decimal_range})
_VALIDATORS = {event_type: _Validator(schema) for event_type, schema in DATA_SCHEMAS.items()}


# A fast path for valid data (`make bench`: jsonschema's iter_errors was a fifth of a delivery's
# cost). Each schema is compiled once into nested closures answering "valid or not" for exactly
# the keywords used above, with jsonschema's meaning: "type" (string, boolean, null, object,
# array; "integer" and "number" are not compiled), "required", "properties", "items", "pattern"
# (re.search), "minLength"/"maxLength" (len), "enum" of strings, "anyOf", "decimalRange",
# and "format", which _VALIDATORS do not assert (no format_checker). Only a yes is trusted:
# on a no, validate_data runs jsonschema to word the errors, so a compiled check that is
# stricter than jsonschema costs time, never an answer. tests/integrations/
# test_schema_fast_path.py holds the two to the same answer on many payloads. A schema using
# any other keyword gets no compiled check (jsonschema alone), never a wrong one.
Check = Callable[[object], bool]
_PY_TYPES = {"string": str, "boolean": bool, "null": type(None), "object": dict, "array": list}
_COMPILED_KEYWORDS = frozenset(
    ("type", "required", "properties", "items", "pattern", "minLength", "maxLength", "enum")
    + ("anyOf", "format", "decimalRange")
)
_DECIMAL_TESTS = {
    "gt": lambda value, bound: value > bound,
    "gte": lambda value, bound: value >= bound,
    "lt": lambda value, bound: value < bound,
    "lte": lambda value, bound: value <= bound,
}


class UncompilableSchema(ValueError):
    """The schema uses a keyword (or a form of one) the fast path does not implement."""


def _compile_decimal_range(bounds: dict) -> Callable[[str], bool]:
    if not set(bounds) <= set(_DECIMAL_TESTS):
        raise UncompilableSchema(f"decimalRange {bounds!r} is not compiled")
    tests = [(_DECIMAL_TESTS[name], Decimal(bound)) for name, bound in bounds.items()]

    def check(instance: str) -> bool:
        try:
            value = Decimal(instance)
        except InvalidOperation:
            return True  # as _decimal_range: the pattern reports it
        try:
            return all(test(value, bound) for test, bound in tests)
        except InvalidOperation:  # NaN: let jsonschema answer (it raises)
            return False

    return check


def _compiled_types(schema: dict, *, asserts_format: bool) -> tuple[type, ...] | None:
    """The Python types ``schema`` allows (None: any); raises UncompilableSchema for a schema
    or keyword compile_schema does not handle."""
    if not isinstance(schema, dict):
        raise UncompilableSchema(f"schema {schema!r} is not an object")
    unknown = set(schema) - _COMPILED_KEYWORDS
    if unknown:
        raise UncompilableSchema(f"keywords {sorted(unknown)} are not compiled")
    if "format" in schema and asserts_format:
        raise UncompilableSchema("asserted formats are not compiled")
    if "type" not in schema:
        return None
    names = schema["type"] if isinstance(schema["type"], list) else [schema["type"]]
    if not names or any(name not in _PY_TYPES for name in names):
        raise UncompilableSchema(f"type {schema['type']!r} is not compiled")
    return tuple(_PY_TYPES[name] for name in names)


def _compiled_enum(schema: dict) -> frozenset[str] | None:
    if "enum" not in schema:
        return None
    if not all(isinstance(value, str) for value in schema["enum"]):
        raise UncompilableSchema("only enums of strings are compiled")
    return frozenset(schema["enum"])


def compile_schema(schema: dict, *, asserts_format: bool = False) -> Check:
    """A predicate true exactly when jsonschema (without a format checker, plus decimalRange)
    finds ``schema`` valid. Raises UncompilableSchema for anything else."""
    types = _compiled_types(schema, asserts_format=asserts_format)
    min_length, max_length = schema.get("minLength", 0), schema.get("maxLength")
    if not isinstance(min_length, int) or not isinstance(max_length, int | None):
        raise UncompilableSchema("minLength/maxLength must be integers")
    search = re.compile(schema["pattern"]).search if "pattern" in schema else None
    decimal_range = (
        _compile_decimal_range(schema["decimalRange"]) if "decimalRange" in schema else None
    )
    required = tuple(schema.get("required", ()))
    properties = tuple(
        (name, compile_schema(sub, asserts_format=asserts_format))
        for name, sub in schema.get("properties", {}).items()
    )
    items = (
        compile_schema(schema["items"], asserts_format=asserts_format)
        if "items" in schema
        else None
    )
    enum = _compiled_enum(schema)
    any_of = None
    if "anyOf" in schema:
        any_of = tuple(
            compile_schema(sub, asserts_format=asserts_format) for sub in schema["anyOf"]
        )
    strings = bool(min_length or max_length is not None or search or decimal_range)

    def check(instance: object) -> bool:
        if types is not None and not isinstance(instance, types):
            return False
        if isinstance(instance, str):
            if strings:
                if len(instance) < min_length:
                    return False
                if max_length is not None and len(instance) > max_length:
                    return False
                if search is not None and search(instance) is None:
                    return False
                if decimal_range is not None and not decimal_range(instance):
                    return False
        elif isinstance(instance, dict):
            for name in required:
                if name not in instance:
                    return False
            for name, valid in properties:
                if name in instance and not valid(instance[name]):
                    return False
        elif items is not None and isinstance(instance, list):
            for item in instance:
                if not items(item):
                    return False
        if enum is not None and not (isinstance(instance, str) and instance in enum):
            return False
        return any_of is None or any(valid(instance) for valid in any_of)

    return check


def _compile_all() -> dict[str, Check]:
    compiled = {}
    for event_type, schema in DATA_SCHEMAS.items():
        try:
            compiled[event_type] = compile_schema(
                schema, asserts_format=_VALIDATORS[event_type].format_checker is not None
            )
        except UncompilableSchema:
            continue  # jsonschema alone validates this type
    return compiled


_FAST_CHECKS = _compile_all()


def full_schema(event_type: str) -> dict:
    """The JSON Schema of a whole delivery body of ``event_type`` (served to integrators)."""
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": event_type,
        "type": "object",
        "required": ["type", "timestamp", "data"],
        "properties": {
            "type": {"const": event_type},
            "timestamp": DATETIME,
            "data": DATA_SCHEMAS[event_type],
        },
    }


def validate_data(event_type: str, data: object) -> dict[str, list[str]]:
    """Field errors of ``data`` for ``event_type``: {"data.hours": ["..."]}; empty when valid."""
    fast = _FAST_CHECKS.get(event_type)
    if fast is not None and fast(data):
        return {}
    return _schema_errors(event_type, data)


def _schema_errors(event_type: str, data: object) -> dict[str, list[str]]:
    """validate_data through jsonschema itself (the words of every error)."""
    errors: dict[str, list[str]] = {}
    for error in sorted(_VALIDATORS[event_type].iter_errors(data), key=lambda e: list(e.path)):
        path = ".".join(["data", *(str(p) for p in error.absolute_path)])
        if error.validator == "required":
            missing = error.message.split("'")[1] if "'" in error.message else ""
            path = f"{path}.{missing}" if missing else path
            errors.setdefault(path, []).append("This field is required.")
        else:
            errors.setdefault(path, []).append(error.message)
    return errors
