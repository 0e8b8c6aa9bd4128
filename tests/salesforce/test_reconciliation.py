"""The reconciliation with Salesforce as the CRM (docs/finance-controls/reconciliation.md): the
invoice statuses are read back from the fake org in one SOQL query on ``Invoice__c`` by
``Throughline_Id__c IN (…)``, its picklist values mapped back to ours ("Posted" → posted); a
``Status__c`` left stale in the org is one ``reconciliation_mismatch`` item, resolved once the
org shows our status again."""

from io import StringIO

import pytest
from django.core.management import call_command

from billing.models import Invoice
from exceptions_queue.models import ExceptionItem
from integrations.connectors.salesforce.reads import read_invoice_statuses
from integrations.services.connectors import connector_for
from tests.billing.test_rating import approve
from tests.factories import billing_invoices as f
from tests.helpers import drain

pytestmark = pytest.mark.django_db


def _reconcile() -> None:
    call_command("reconcile", "--period", "2026-11", stdout=StringIO())


@pytest.fixture
def posted(client, sf_firm, api_client_for) -> Invoice:
    f.project("PRJ-100", entity=f.legal_entity())  # US01's standard card: consultant 150.00
    approve(client, sf_firm["secrets"]["psa"], time_entry_id="TE-1", hours="2.00")
    call_command("billing_run", "--period", "2026-11", stdout=StringIO())
    invoice = Invoice.objects.get()
    approved = api_client_for("finance").post(f"/api/v1/invoices/{invoice.pk}/approve/")
    assert approved.status_code == 200, approved.content
    drain()
    invoice.refresh_from_db()
    assert invoice.status == Invoice.Status.POSTED
    return invoice


def _org_invoice(fake, invoice: Invoice) -> dict:
    [record] = [
        r for r in fake.records("Invoice__c").values() if r["Throughline_Id__c"] == str(invoice.pk)
    ]
    return record


def test_statuses_are_read_in_one_query_and_mapped_back_to_ours(sf_firm, posted):
    fake = sf_firm["fake"]
    assert _org_invoice(fake, posted)["Status__c"] == "Posted"
    before = len(fake.calls("*/query*"))
    connector = connector_for(sf_firm["crm"])
    assert connector.read_invoice_statuses([str(posted.pk), "999999"]) == {str(posted.pk): "posted"}
    [query] = fake.calls("*/query*")[before:]
    soql = query.query["q"]
    assert soql.startswith("SELECT Throughline_Id__c, Status__c FROM Invoice__c WHERE ")
    assert f"Throughline_Id__c IN ('{posted.pk}', '999999')" in soql


def test_a_value_the_mapping_does_not_know_is_answered_as_the_org_wrote_it(sf_firm, posted):
    _org_invoice(sf_firm["fake"], posted)["Status__c"] = "Disputed"
    connector = connector_for(sf_firm["crm"])
    client = connector._client()
    found = read_invoice_statuses(client, connector.rules, [str(posted.pk)])
    assert found == {str(posted.pk): "Disputed"}


def test_a_stale_status_in_salesforce_is_one_item_until_the_org_catches_up(sf_firm, posted):
    fake = sf_firm["fake"]
    _reconcile()
    assert not ExceptionItem.objects.filter(type_code="reconciliation_mismatch").exists()

    _org_invoice(fake, posted)["Status__c"] = "Approved"  # an update the org lost
    _reconcile()
    _reconcile()
    item = ExceptionItem.objects.get(type_code="reconciliation_mismatch")
    assert item.subject_key == f"2026-11:US01:crm_status:invoice:{posted.pk}"
    assert (item.details["ours"], item.details["theirs"]) == (
        "Throughline says posted",
        "crm says approved",
    )
    assert item.status == "open" and item.occurrence_count == 1

    _org_invoice(fake, posted)["Status__c"] = "Posted"
    _reconcile()
    item.refresh_from_db()
    assert (item.status, item.resolution_action) == ("resolved", "auto")
