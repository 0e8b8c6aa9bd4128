"""``manage.py load_reference`` (docs/contract.md §4): upsert by code, idempotent, all or nothing."""

import json
from datetime import date
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from billing.models import (
    BillingRule,
    FxRate,
    Person,
    ProjectTemplate,
    Rate,
    RateCard,
    RateCardVersion,
    Role,
    TaxRate,
    TemplatePhase,
)
from mdm.models import LegalEntity
from tests.factories.billing import reference_data

pytestmark = pytest.mark.django_db
EXAMPLE = Path(__file__).resolve().parents[2] / "docs" / "examples" / "reference.json"
MODELS = (
    LegalEntity,
    Role,
    Person,
    TaxRate,
    FxRate,
    RateCard,
    RateCardVersion,
    Rate,
    ProjectTemplate,
    TemplatePhase,
    BillingRule,
)


def history_rows() -> dict:
    return {model.__name__: model.history.count() for model in MODELS}


def run(path: Path) -> str:
    from io import StringIO

    out = StringIO()
    call_command("load_reference", str(path), stdout=out)
    return out.getvalue()


def write(tmp_path: Path, data: dict) -> Path:
    path = tmp_path / "reference.json"
    path.write_text(json.dumps(data))
    return path


def test_the_example_file_loads_and_a_second_run_changes_nothing(systems):
    first = run(EXAMPLE)
    assert "rate_cards: 4 created" in first
    assert LegalEntity.objects.get(code="US01").tax_jurisdictions == ["US-NY", "US-CA"]
    us = RateCard.objects.get(code="US-STD")
    versions = list(us.versions.values_list("valid_from", "valid_to"))
    assert versions == [
        (date(2026, 1, 1), date(2026, 12, 31)),  # closed by the 2027 version
        (date(2027, 1, 1), None),
    ]
    assert (
        Rate.objects.get(
            version__card=us, version__valid_from=date(2027, 1, 1), role__code="consultant"
        ).hourly
        == 158
    )
    assert set(ProjectTemplate.objects.values_list("code", flat=True)) >= {
        "TM-STD",
        "FF-STD",
        "RET-STD",
    }
    before = history_rows()

    second = run(EXAMPLE)

    assert second.strip().endswith("0 row(s) changed")
    assert history_rows() == before


def test_a_changed_row_is_updated_and_nothing_else(tmp_path, db):
    run(write(tmp_path, reference_data()))
    before = history_rows()
    data = reference_data()
    data["roles"][0]["name"] = "Consultant II"

    out = run(write(tmp_path, data))

    assert "roles: 0 created, 1 updated, 1 unchanged" in out
    assert Role.objects.get(code="consultant").name == "Consultant II"
    after = history_rows()
    assert after.pop("Role") == before.pop("Role") + 1 and after == before


def test_a_new_version_closes_the_previous_one(tmp_path, db):
    run(write(tmp_path, reference_data()))
    data = reference_data()
    data["rate_cards"][0]["versions"] = [
        {
            "valid_from": "2026-09-01",
            "valid_to": None,
            "rates": [{"role": "consultant", "hourly": "160.00"}],
        }
    ]

    run(write(tmp_path, data))

    card = RateCard.objects.get(code="US-STD")
    assert list(card.versions.values_list("valid_from", "valid_to")) == [
        (date(2026, 1, 1), date(2026, 8, 31)),
        (date(2026, 9, 1), None),
    ]


def test_overlapping_versions_fail(tmp_path, db):
    data = reference_data()
    data["rate_cards"][0]["versions"] = [
        {"valid_from": "2026-01-01", "valid_to": "2026-12-31", "rates": []},
        {"valid_from": "2026-06-01", "valid_to": None, "rates": []},
    ]
    with pytest.raises(CommandError, match=r"rate_cards row 1 \(US-STD\): .*ends 2026-12-31"):
        run(write(tmp_path, data))
    assert not RateCard.objects.exists()


@pytest.mark.parametrize(
    ("section", "row", "message"),
    [
        (
            "people",
            {
                "email": "x@acme.example",
                "name": "X",
                "role": "ghost",
                "legal_entity": "US01",
                "cost_rate": "1.00",
            },
            r"people row 2 \(x@acme.example\): unknown role 'ghost'",
        ),
        (
            "tax_rates",
            {"jurisdiction": "DE", "rate": 0.19, "valid_from": "2020-01-01"},
            r"tax_rates row 2 \(DE\): rate must be a decimal string",
        ),
        (
            "project_templates",
            {"code": "BAD", "name": "Bad", "billing_models": ["barter"]},
            r"project_templates row 4 \(BAD\): billing_models",
        ),
        (
            "fx_rates",
            {"from": "EUR", "to": "USD", "date": "2026-11-01"},
            r"fx_rates row 2 \(EUR\): missing field 'rate'",
        ),
    ],
)
def test_a_bad_row_fails_the_whole_file_naming_the_row(tmp_path, db, section, row, message):
    data = reference_data()
    data[section] = [*data[section], row]
    with pytest.raises(CommandError, match=message):
        run(write(tmp_path, data))
    assert not LegalEntity.objects.exists() and not Role.objects.exists()  # nothing kept


def test_an_unknown_section_or_bad_json_is_refused(tmp_path, db):
    with pytest.raises(CommandError, match="unknown sections: rate_card"):
        run(write(tmp_path, {"rate_card": []}))
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(CommandError, match="not valid JSON"):
        run(bad)
