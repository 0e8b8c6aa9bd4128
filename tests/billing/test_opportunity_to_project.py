"""Opportunity to project over HTTP: a signed closed-won deal becomes one customer, contract and
project, one ERP customer and one PSA project in the sandboxes, and one published event."""

import pytest

from billing.models import Contract, Milestone, OpportunityDeal, Project
from exceptions_queue.models import ExceptionItem
from integrations.models import ExternalRef, OutboxMessage, SandboxRecord, TraceStep
from mdm.models import Customer
from tests.factories.billing import closed_won_data, load_reference
from tests.helpers import drain, envelope, post_event

pytestmark = pytest.mark.django_db


@pytest.fixture
def reference(systems):
    load_reference()
    return systems


def send_deal(client, systems, data, **kwargs):
    response = post_event(
        client,
        "crm",
        systems["crm"][1],
        envelope("crm.opportunity.closed_won", data, **kwargs),
    )
    assert response.status_code == 202, response.content
    drain()
    return response.json()["trace_id"]


def effects() -> dict:
    return {
        "customers": Customer.objects.count(),
        "contracts": Contract.objects.count(),
        "projects": Project.objects.count(),
        "milestones": Milestone.objects.count(),
        "records": sorted(
            SandboxRecord.objects.values_list("system__slug", "operation", "external_id")
        ),
        "outbox": OutboxMessage.objects.count(),
        "items": ExceptionItem.objects.count(),
    }


@pytest.mark.parametrize(
    ("billing_model", "phases"),
    [
        ("time_and_materials", ["DISC", "BUILD"]),
        ("fixed_fee", ["PLAN", "DELIVER"]),
        ("retainer", ["ADVISE"]),
    ],
)
def test_a_valid_deal_becomes_one_customer_contract_project_and_event_on_one_trace(
    client, reference, billing_model, phases
):
    data = closed_won_data(billing_model)
    trace_id = send_deal(client, reference, data)

    project = Project.objects.select_related("contract", "customer").get()
    contract = project.contract
    assert contract.crm_opportunity_id == data["opportunity_id"]
    assert contract.billing_model == billing_model and contract.currency == "USD"
    assert contract.legal_entity.code == "US01" and contract.tax_jurisdiction == "US-NY"
    assert list(project.phases.values_list("code", flat=True)) == phases
    assert project.status == Project.Status.ACTIVE
    assert Customer.objects.get() == project.customer
    assert project.customer.name == "Initech Corporation"

    psa = SandboxRecord.objects.get(system__slug="psa")
    assert psa.operation == "psa.project.create"
    assert [p["code"] for p in psa.data["phases"]] == phases
    assert project.psa_project_id == psa.external_id
    erp = SandboxRecord.objects.get(system__slug="erp")
    assert erp.operation == "erp.customer.upsert" and erp.data["legal_entity"] == "US01"
    published = SandboxRecord.objects.get(system__slug="crm")
    assert published.operation == "crm.event.publish"
    assert published.data["type"] == "throughline.project.activated"
    assert published.data["data"]["psa_project_id"] == project.psa_project_id

    refs = dict(ExternalRef.objects.values_list("system__slug", "external_id"))
    assert refs["psa"] == psa.external_id and refs["erp"] == erp.external_id
    assert set(OutboxMessage.objects.values_list("trace_id", flat=True)) == {trace_id}
    assert set(OutboxMessage.objects.values_list("status", flat=True)) == {"sent"}
    assert contract.trace_id == trace_id and project.trace_id == trace_id
    actions = set(TraceStep.objects.filter(trace_id=trace_id).values_list("kind", "action"))
    assert {("event", "processed"), ("record", "created"), ("record", "activated")} <= actions
    if billing_model == "fixed_fee":
        assert sorted(contract.milestones.values_list("name", "amount")) == [
            ("Blueprint signed off", 30000),
            ("Go-live", 60000),
        ]
    if billing_model == "retainer":
        assert contract.retainer_monthly_amount == 10000 and contract.retainer_included_hours == 50

    before = effects()
    send_deal(client, reference, data)  # the same deal again, as a new delivery
    assert effects() == before
    assert Contract.objects.get().amendment_count == 0


def test_a_known_customer_is_matched_not_duplicated(client, reference):
    post_event(
        client,
        "crm",
        reference["crm"][1],
        envelope(
            "crm.account.upserted",
            {
                "account_id": "001ACME",
                "name": "Initech Corporation",
                "website": "initech.example",
                "billing_country": "US",
                "updated_at": "2026-10-01T10:00:00+00:00",
            },
        ),
    )
    drain()
    customer = Customer.objects.get()

    send_deal(client, reference, closed_won_data())

    assert Customer.objects.get() == customer
    assert Project.objects.get().customer == customer


def test_a_deal_failing_three_rules_raises_one_item_naming_them_and_a_fix_activates_it(
    client, reference, api_client_for
):
    data = closed_won_data(
        tax_jurisdiction="GB",  # not one of US01's
        project_template="FF-STD",  # a fixed-fee template for a T&M deal
        end_date="2026-10-01",  # before the start
    )
    trace_id = send_deal(client, reference, data)

    assert not Contract.objects.exists() and not OutboxMessage.objects.exists()
    item = ExceptionItem.objects.get(type_code="contract_invalid")
    assert item.queue == "finance" and item.subject_key == f"opportunity:{data['opportunity_id']}"
    assert sorted(f["rule"] for f in item.details["failures"]) == [
        "billing_model",
        "dates",
        "tax_jurisdiction",
    ]
    assert "US-NY, US-CA" in item.summary and "before it starts" in item.summary
    assert item.trace_id == trace_id

    finance = api_client_for("finance")
    refused = finance.post(
        f"/api/v1/exceptions/{item.pk}/resolve/",
        {"action": "fix_and_rerun", "data": {"tax_jurisdiction": "US-NY"}},
        format="json",
    )
    assert refused.status_code == 409, refused.content
    assert "Still invalid" in refused.json()["message"]
    assert not Contract.objects.exists()

    response = finance.post(
        f"/api/v1/exceptions/{item.pk}/resolve/",
        {
            "action": "fix_and_rerun",
            "data": {
                "tax_jurisdiction": "US-NY",
                "project_template": "TM-STD",
                "end_date": "2027-04-30",
            },
        },
        format="json",
    )
    assert response.status_code == 200, response.content
    assert response.json()["status"] == "resolved"
    drain()

    project = Project.objects.get()
    assert project.status == Project.Status.ACTIVE and project.template.code == "TM-STD"
    assert project.contract.end_date.isoformat() == "2027-04-30"
    assert set(OutboxMessage.objects.values_list("trace_id", flat=True)) == {trace_id}
    assert SandboxRecord.objects.filter(operation="crm.event.publish").count() == 1
    deal = OpportunityDeal.objects.get()
    assert deal.status == "applied" and deal.overrides["tax_jurisdiction"] == "US-NY"

    before = effects()
    send_deal(client, reference, data)  # the CRM sends the (uncorrected) deal again
    assert effects() == before  # finance's fixes stay with the opportunity


def test_fixing_reference_data_and_rerunning_resolves_the_item(client, systems, api_client_for):
    from tests.factories.billing import reference_data

    data = reference_data()
    data["rate_cards"] = [c for c in data["rate_cards"] if c["code"] != "US-STD"]
    load_reference(data)
    send_deal(client, systems, closed_won_data())
    item = ExceptionItem.objects.get(type_code="contract_invalid")
    assert [f["rule"] for f in item.details["failures"]] == ["rate_card"]

    load_reference()  # adds the US01 standard card
    response = api_client_for("finance").post(
        f"/api/v1/exceptions/{item.pk}/resolve/", {"action": "rerun"}, format="json"
    )
    assert response.status_code == 200, response.content
    drain()
    assert Project.objects.get().status == Project.Status.ACTIVE


def test_a_valid_resend_resolves_the_open_item(client, reference):
    data = closed_won_data(legal_entity="XX01")
    send_deal(client, reference, data)
    item = ExceptionItem.objects.get(type_code="contract_invalid")
    assert [f["rule"] for f in item.details["failures"]] == ["legal_entity"]

    send_deal(client, reference, {**data, "legal_entity": "US01"})

    item.refresh_from_db()
    assert item.status == "resolved" and item.resolution_action == "auto"
    assert Project.objects.get().status == Project.Status.ACTIVE


def test_the_psa_down_for_a_while_delays_but_neither_loses_nor_doubles(client, reference):
    from django.utils import timezone

    from integrations.services.systems import set_sandbox_faults

    psa = reference["psa"][0]
    set_sandbox_faults(system=psa, outage_minutes=30)
    send_deal(client, reference, closed_won_data())
    project = Project.objects.get()
    assert project.status == Project.Status.PROVISIONING and project.psa_project_id is None
    message = OutboxMessage.objects.get(kind="psa.project.create")
    assert message.status == OutboxMessage.Status.FAILED

    set_sandbox_faults(system=psa, clear=True)
    OutboxMessage.objects.filter(pk=message.pk).update(next_attempt_at=timezone.now())
    drain()

    project.refresh_from_db()
    assert project.status == Project.Status.ACTIVE and project.psa_project_id
    assert SandboxRecord.objects.filter(operation="psa.project.create").count() == 1
    assert SandboxRecord.objects.filter(operation="crm.event.publish").count() == 1


def test_the_example_files_make_a_project(client, systems):
    import json
    from pathlib import Path

    from django.core.management import call_command

    examples = Path(__file__).resolve().parents[2] / "docs" / "examples"
    call_command("load_reference", str(examples / "reference.json"))
    body = json.loads((examples / "closed_won.json").read_text())
    response = post_event(client, "crm", systems["crm"][1], body)
    assert response.status_code == 202, response.content
    drain()
    project = Project.objects.get()
    assert project.status == Project.Status.ACTIVE
    assert set(SandboxRecord.objects.values_list("system__slug", "operation")) == {
        ("erp", "erp.customer.upsert"),
        ("psa", "psa.project.create"),
        ("crm", "crm.event.publish"),
        ("erp", "erp.event.publish"),
    }


def test_finance_fixes_the_deal_on_the_item_page(client, reference):
    from tests.conftest import make_user

    data = closed_won_data(tax_jurisdiction="DE")
    send_deal(client, reference, data)
    item = ExceptionItem.objects.get(type_code="contract_invalid")
    client.force_login(make_user("fran", "finance"))

    page = client.get(f"/exceptions/items/{item.pk}/")
    assert page.status_code == 200
    assert b"Fix fields and re-run" in page.content and b'name="tax_jurisdiction"' in page.content
    assert b"Tax jurisdiction &#x27;DE&#x27; is not one of US01" in page.content

    form = dict.fromkeys(
        (
            "legal_entity",
            "currency",
            "billing_model",
            "project_template",
            "rate_card",
            "start_date",
            "end_date",
            "not_to_exceed",
        ),
        "",
    )
    response = client.post(
        f"/exceptions/items/{item.pk}/resolve/fix_and_rerun/", {**form, "tax_jurisdiction": "US-CA"}
    )
    assert response.status_code == 302
    item.refresh_from_db()
    assert item.status == "resolved"
    drain()
    assert Project.objects.get().contract.tax_jurisdiction == "US-CA"


def test_the_fix_form_offers_the_reference_values_and_keeps_what_finance_did_not_change(
    client, reference
):
    from tests.conftest import make_user

    data = closed_won_data(tax_jurisdiction="GB")
    send_deal(client, reference, data)
    item = ExceptionItem.objects.get(type_code="contract_invalid")
    make_user("fia", "finance")
    client.login(username="fia", password="pw-fia")
    page = client.get(f"/exceptions/items/{item.pk}/").content.decode()
    jurisdiction = page[page.index('name="tax_jurisdiction"') :].split("</select>")[0]
    assert "(keep: GB)" in jurisdiction and 'value="US-NY"' in jurisdiction
    entity = page[page.index('name="legal_entity"') :].split("</select>")[0]
    assert 'value="US01" selected' in entity  # pre-filled with the deal's own value
    # The form posts every pre-filled value; only the changed one becomes an override.
    client.post(
        f"/exceptions/items/{item.pk}/resolve/fix_and_rerun/",
        {"legal_entity": "US01", "tax_jurisdiction": "US-NY", "project_template": "TM-STD"},
    )
    assert OpportunityDeal.objects.get().overrides == {"tax_jurisdiction": "US-NY"}
    assert Project.objects.exists()
