"""The compiled schema checks (integrations/webhooks/schemas.py) answer exactly as jsonschema.

validate_data trusts a compiled "valid" without asking jsonschema, so a compiled check that
accepted what jsonschema rejects would let bad data in. Each event type's valid samples are
mutated field by field (removed, replaced by wrong types and values, swapped with other fields)
and both answers compared, together with validate_data's errors.
"""

import copy
from decimal import InvalidOperation

import pytest

from integrations.connectors import schemas
from integrations.connectors.schemas import (
    DATA_SCHEMAS,
    UncompilableSchema,
    compile_schema,
    validate_data,
)
from tests.helpers import time_entry_data

MILESTONE = {"name": "Kick-off", "amount": "1000.00", "due_date": "2026-12-01"}
BILL_TO = {
    "line1": "1 Main St",
    "line2": None,
    "city": "Springfield",
    "region": "NY",
    "postal_code": "10001",
    "country": "US",
}

VALID: dict[str, list[dict]] = {
    "crm.account.upserted": [
        {
            "account_id": "ACC-1",
            "name": "Acme",
            "website": "https://acme.example",
            "industry": "Manufacturing",
            "phone": "+1 555 0100",
            "parent_account_id": "ACC-0",
            "owner_email": "owner@acme.example",
            "billing_country": "US",
            "updated_at": "2026-11-03T09:00:00+00:00",
        },
        {"account_id": "A", "name": "x", "updated_at": "2026-11-03"},
    ],
    "crm.contact.upserted": [
        {
            "contact_id": "C-1",
            "account_id": "ACC-1",
            "first_name": "Ana",
            "last_name": "Lima",
            "email": "ana@acme.example",
            "phone": None,
            "title": "CFO",
            "is_billing_contact": True,
            "updated_at": "2026-11-03T09:00:00Z",
        },
        {"contact_id": "C", "account_id": "A", "last_name": "", "updated_at": "not a date"},
    ],
    "crm.opportunity.closed_won": [
        {
            "opportunity_id": "OPP-1",
            "account_id": "ACC-1",
            "name": "Discovery",
            "close_date": "2026-10-30",
            "amount": "12000.00",
            "currency": "USD",
            "legal_entity": "US01",
            "billing_model": "fixed_fee",
            "start_date": "2026-11-01",
            "end_date": "2027-01-31",
            "tax_jurisdiction": "US-NY",
            "project_template": "STD",
            "rate_card": None,
            "not_to_exceed": "15000",
            "po_number": "PO-7",
            "payment_terms": None,
            "milestones": [MILESTONE, {"name": "Final", "amount": "-1", "due_date": None}],
            "retainer": {"monthly_amount": "5000.00", "included_hours": "40"},
        },
        {
            "opportunity_id": "O",
            "account_id": "A",
            "name": "",
            "close_date": "2026-13-45",  # formats are not asserted: the pattern alone applies
            "amount": "0",
            "currency": "EUR",
            "legal_entity": "DE01",
            "billing_model": "time_and_materials",
            "start_date": "2026-11-01",
            "end_date": "2026-11-01",
            "tax_jurisdiction": "DE",
            "project_template": "T",
            "milestones": [],
            "retainer": None,
        },
    ],
    "psa.project.updated": [
        {
            "project_id": "PRJ-1",
            "opportunity_id": "OPP-1",
            "status": "active",
            "phases": [
                {"code": "DISC", "name": "Discovery", "status": "open"},
                {"code": "BUILD", "status": "closed"},
            ],
            "updated_at": "2026-11-03T09:00:00+00:00",
        },
        {"project_id": "P", "status": "closed", "phases": [], "updated_at": "2026-11-03"},
    ],
    "psa.time_entry.approved": [
        time_entry_data(time_entry_id="TE-1"),
        {
            "time_entry_id": "T",
            "project_id": "P",
            "phase_code": "X",
            "person_email": "a@b",
            "role": "r",
            "work_date": "2026-11-02",
            "hours": "24",
            "billable": False,
            "category": "travel",
            "bill_rate": "0",
            "approved_at": "2026-11-03T09:00:00Z",
        },
    ],
    "psa.time_entry.retracted": [
        {"time_entry_id": "TE-1", "reason": "wrong project", "retracted_at": "2026-11-04T10:00Z"},
        {"time_entry_id": "T", "retracted_at": "2026-11-04T10:00:00+00:00"},
    ],
    "psa.milestone.completed": [
        {"project_id": "PRJ-1", "milestone_name": "Kick-off", "completed_on": "2026-11-05"},
    ],
    "erp.customer.upserted": [
        {
            "customer_id": "CUS-1",
            "crm_account_id": "ACC-1",
            "legal_name": "Acme Inc.",
            "legal_entity": "US01",
            "bill_to": BILL_TO,
            "payment_terms": "NET30",
            "currency": "USD",
            "tax_id": "12-3456789",
            "tax_jurisdiction": "US-NY",
            "updated_at": "2026-11-03T09:00:00+00:00",
        },
        {
            "customer_id": "C",
            "legal_name": "A",
            "legal_entity": "E",
            "bill_to": {"line1": "", "city": "", "country": "GB"},
            "updated_at": "2026-11-03T09:00:00",
        },
    ],
    "erp.invoice.status_changed": [
        {
            "invoice_id": "INV-1",
            "number": "2026-0001",
            "status": "partially_paid",
            "total": "1200.00",
            "amount_due": "200.00",
            "currency": "USD",
            "changed_at": "2026-11-03T09:00:00+00:00",
        },
        {
            "invoice_id": "I",
            "number": None,
            "status": "void",
            "total": "-0.001",
            "amount_due": "99999999999999999.999",
            "currency": "GBP",
            "changed_at": "2026-11-03",
        },
    ],
}

# Wrong (and a few right) values for any field: types JSON can carry (a bool is not a string;
# in Python True == 1), empty and boundary-length strings, decimals as numbers and as malformed
# strings (NaN makes decimalRange raise: both paths must then raise alike), dates, codes,
# emails and enum values in and out of their patterns, with Unicode digits and a trailing
# newline ($ matches before one).
BAD_VALUES = [
    None,
    True,
    False,
    0,
    1,
    -1,
    7.5,
    0.0,
    24,
    float("inf"),
    "",
    " ",
    "x",
    "x" * 119,
    "x" * 120,
    "x" * 121,
    "0",
    "-0",
    "7.50",
    "-7.50",
    "7.",
    ".5",
    "24",
    "24.0",
    "24.000000",
    "24.000001",
    "23.999999",
    "0.000001",
    "1.1234567",
    "123456789012345",
    "1234567890123456",
    "1e1",
    "1E-2",
    "NaN",
    "sNaN",
    "Infinity",
    "-Infinity",
    " 7.5",
    "7.5\n",
    "7,50",
    "\u0667.\u0665",
    "2026-11-02",
    "2026-13-45",
    "2026-11-02\n",
    "\u0662\u0660\u0662\u0666-\u0661\u0661-\u0660\u0662",
    "20261102",
    "2026-11-2",
    "2026-11-02T09:00:00+00:00",
    "2026-11-0",
    "2026-11-02 ",
    "GB",
    "gb",
    "GBR",
    "GB\n",
    "G",
    "USD",
    "usd",
    "US-NY",
    "a@b",
    "a@b.c",
    "a b@c",
    "@b",
    "a@",
    "a@@b",
    "a@b\n",
    "active",
    "on_hold",
    "closed",
    "open",
    "Active",
    "posted",
    "sent",
    "paid",
    "void",
    "partially_paid",
    "fixed_fee",
    "retainer",
    "time_and_materials",
    [],
    [1],
    ["x"],
    [None],
    [{}],
    {},
    {"a": 1},
    [MILESTONE],
    MILESTONE,
    BILL_TO,
    {"monthly_amount": "1", "included_hours": "2"},
    {"monthly_amount": 1, "included_hours": "2"},
    {"code": "C", "status": "open"},
    [{"code": "C", "status": "done"}],
    [{"code": "", "status": "open"}],
    [{"name": "M", "amount": 10}],
    [{"name": "M", "amount": "10", "due_date": "tomorrow"}],
]


def _paths(value, prefix=()):
    """Every path into ``value``: dict keys and list indexes, containers and leaves."""
    if isinstance(value, dict):
        for key, child in value.items():
            yield (*prefix, key)
            yield from _paths(child, (*prefix, key))
    elif isinstance(value, list):
        for index, child in enumerate(value):
            yield (*prefix, index)
            yield from _paths(child, (*prefix, index))


def _replaced(data, path, value):
    data = copy.deepcopy(data)
    target = data
    for step in path[:-1]:
        target = target[step]
    target[path[-1]] = copy.deepcopy(value)
    return data


def _removed(data, path):
    data = copy.deepcopy(data)
    target = data
    for step in path[:-1]:
        target = target[step]
    del target[path[-1]]
    return data


def _get(data, path):
    for step in path:
        data = data[step]
    return data


def _cases(event_type):
    for sample in VALID[event_type]:
        yield sample
        yield {**sample, "unexpected": {"extra": [1, 2]}}
        paths = list(_paths(sample))
        others = [_get(sample, p) for p in paths]
        for path in paths:
            yield _removed(sample, path)
            for value in (*BAD_VALUES, *others):
                yield _replaced(sample, path, value)
        for name in DATA_SCHEMAS[event_type]["properties"]:  # optional fields absent in sample
            if name not in sample:
                for value in BAD_VALUES:
                    yield {**sample, name: value}
    yield from ([], "x", None, 1, True, {})


def _jsonschema_valid(event_type, data):
    """True/False as jsonschema answers, or the exception it raises."""
    try:
        return not list(schemas._VALIDATORS[event_type].iter_errors(data))
    except InvalidOperation as exc:
        return exc


@pytest.mark.parametrize("event_type", sorted(DATA_SCHEMAS))
def test_the_compiled_check_answers_as_jsonschema(event_type):
    fast = schemas._FAST_CHECKS[event_type]
    seen_valid = seen_invalid = 0
    for data in _cases(event_type):
        expected = _jsonschema_valid(event_type, data)
        if isinstance(expected, Exception):  # NaN and the like: jsonschema must answer it
            assert fast(data) is False, data
            with pytest.raises(InvalidOperation):
                validate_data(event_type, data)
            continue
        assert fast(data) is expected, (expected, data)
        assert validate_data(event_type, data) == schemas._schema_errors(event_type, data), data
        seen_valid += expected
        seen_invalid += not expected
    assert seen_valid > 10 and seen_invalid > 50  # the cases exercise both answers


@pytest.mark.parametrize("event_type", sorted(VALID))
def test_valid_data_does_not_reach_jsonschema(event_type, monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("jsonschema was asked about valid data")

    monkeypatch.setattr(schemas, "_schema_errors", refuse)
    for sample in VALID[event_type]:
        assert validate_data(event_type, sample) == {}


def test_every_event_type_has_a_compiled_check_and_formats_are_not_asserted():
    assert set(schemas._FAST_CHECKS) == set(DATA_SCHEMAS)
    # The compiled checks ignore "format" because the validators do: if a format checker is
    # ever passed, compile_schema must be told (asserts_format) and then refuses.
    assert all(v.format_checker is None for v in schemas._VALIDATORS.values())
    with pytest.raises(UncompilableSchema):
        compile_schema(schemas.DATE, asserts_format=True)


@pytest.mark.parametrize(
    "schema",
    [
        {"type": "integer"},
        {"type": "number"},
        {"minimum": 1},
        {"additionalProperties": False},
        {"const": "x"},
        {"enum": [1, 2]},
        {"$ref": "#/$defs/x"},
        {"items": True},
        {"decimalRange": {"max": "1"}},
        {"properties": {"a": {"oneOf": [{"type": "string"}]}}},
    ],
)
def test_a_keyword_the_compiler_does_not_know_is_refused(schema):
    with pytest.raises(UncompilableSchema):
        compile_schema(schema)
