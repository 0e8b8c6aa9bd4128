"""Held time re-runs by itself when its cause goes away (docs/contract.md §3): a raised cap, a
project activated in the PSA, a phase the PSA reopens, a rate card loaded with the missing rate."""

from decimal import Decimal

import pytest

from billing.models import TimeEntry
from billing.services.contracts import activate_project, edit_contract_terms
from billing.services.reference import load_reference_data
from exceptions_queue.models import ExceptionItem
from tests.factories import billing_invoices as f
from tests.helpers import drain, envelope, post_event, time_entry_data

pytestmark = pytest.mark.django_db


def approve(client, secret, **data) -> TimeEntry:
    body = envelope("psa.time_entry.approved", time_entry_data(**data))
    assert post_event(client, "psa", secret, body).status_code == 202
    drain()
    return TimeEntry.objects.get(psa_time_entry_id=data["time_entry_id"])


def test_finance_raising_the_cap_releases_held_time(client, psa_secret):
    entity = f.legal_entity()
    f.rate_card(entity=entity)
    project = f.project(entity=entity, not_to_exceed="1125.00")
    approve(client, psa_secret, time_entry_id="TE-1")  # 7.50 h x 150.00 = 1125.00: the cap
    held = approve(client, psa_secret, time_entry_id="TE-2", hours="1.00")
    assert held.hold_reason == "not_to_exceed"

    edit_contract_terms(
        contract_id=project.contract_id, values={"not_to_exceed": Decimal("2000.00")}
    )

    held.refresh_from_db()
    assert (held.status, held.amount) == (TimeEntry.Status.RATED, Decimal("150.00"))
    assert (
        ExceptionItem.objects.get(type_code="not_to_exceed").status == ExceptionItem.Status.RESOLVED
    )


def test_time_for_a_project_not_yet_in_the_psa_is_rated_once_it_is_activated(
    client, psa_secret, systems
):
    entity = f.legal_entity()
    f.rate_card(entity=entity)
    project = f.project(entity=entity, psa_project_id=None, status="provisioning")
    held = approve(client, psa_secret, time_entry_id="TE-U", project_id="PSA-77")
    assert held.hold_reason == "unknown_project"

    activate_project(project_id=project.pk, psa_project_id="PSA-77", system=systems["psa"][0])

    held.refresh_from_db()
    assert held.status == TimeEntry.Status.RATED and held.project_id == project.pk
    assert (
        ExceptionItem.objects.get(type_code="unknown_project").status
        == ExceptionItem.Status.RESOLVED
    )


def test_loading_the_missing_rate_releases_held_time(client, psa_secret):
    f.standard_world()
    f.role("partner")
    held = approve(client, psa_secret, time_entry_id="TE-P", role="partner", hours="2.00")
    assert held.hold_reason == "rate_missing"

    load_reference_data(
        data={
            "rate_cards": [
                {
                    "code": "US-STD",
                    "legal_entity": "US01",
                    "currency": "USD",
                    "standard": True,
                    "client_account_id": None,
                    "versions": [
                        {
                            "valid_from": "2026-01-01",
                            "valid_to": None,
                            "rates": [
                                {"role": "consultant", "hourly": "150.00"},
                                {"role": "partner", "hourly": "300.00"},
                            ],
                        }
                    ],
                }
            ]
        }
    )

    held.refresh_from_db()
    assert (held.status, held.amount) == (TimeEntry.Status.RATED, Decimal("600.00"))
