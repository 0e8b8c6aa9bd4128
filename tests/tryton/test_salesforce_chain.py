"""The whole chain with Salesforce as the CRM (the fake org: Outbound Messages in, REST out)
and Tryton as PSA and ERP (the live server): a won opportunity becomes a party and a project in
Tryton, time booked in Tryton is billed and the invoice posted in Tryton, and each status of it
reaches Salesforce once, as one invoice record on the opportunity and the account."""

import uuid

import pytest

from billing.models import Invoice, Project
from integrations.models import OutboxMessage
from tests.factories import billing_invoices as invoice_factories
from tests.factories.billing import load_reference
from tests.helpers import drain
from tests.salesforce.conftest import ORG_ID, add_salesforce, fake_salesforce, post_message
from tests.tryton.firm import (
    NOV,
    add_tryton,
    bill_and_approve,
    book_time,
    poll,
    rpc,
    tryton_invoice,
)

pytestmark = pytest.mark.django_db(transaction=True)
__all__ = ["fake_salesforce", "rpc"]  # fixtures, imported for pytest


def _won_opportunity(account_id: str, opportunity_id: str) -> bytes:
    """An Outbound Message as Salesforce sends it for a deal just won (the shape of
    tests/fixtures/salesforce/om_opportunities.xml, with this test's ids and dates)."""
    fields = {
        "Id": opportunity_id, "AccountId": account_id, "Account_Name__c": "Acme Consulting LLC",
        "Name": "Acme - ERP Rollout", "IsWon": "true", "StageName": "Closed Won",
        "CloseDate": "2026-10-28", "Amount": "120000.0", "CurrencyIsoCode": "USD",
        "Legal_Entity__c": "US01", "Billing_Model__c": "Time and Materials",
        "Start_Date__c": "2026-11-01", "End_Date__c": "2027-04-30",
        "Tax_Jurisdiction__c": "US-NY", "Project_Template__c": "TM-STD",
        "Payment_Terms__c": "NET30", "LastModifiedDate": "2026-11-02T09:00:00.000Z",
    }  # fmt: skip
    body = "".join(f"<sf:{name}>{value}</sf:{name}>" for name, value in fields.items())
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/"
 xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"><soapenv:Body>
<notifications xmlns="http://soap.sforce.com/2005/09/outbound">
<OrganizationId>{ORG_ID}</OrganizationId><ActionId>04k5g00000OMOPPAA5</ActionId>
<SessionId xsi:nil="true"/><EnterpriseUrl>https://sf.test/services/Soap/c/62.0</EnterpriseUrl>
<PartnerUrl>https://sf.test/services/Soap/u/62.0</PartnerUrl>
<Notification><Id>04l5g{uuid.uuid4().hex[:13].upper()}</Id>
<sObject xsi:type="sf:Opportunity" xmlns:sf="urn:sobject.enterprise.soap.sforce.com">{body}</sObject>
</Notification></notifications></soapenv:Body></soapenv:Envelope>""".encode()


@pytest.fixture
def sf_tryton_firm(live_tryton, settings, db, fake_salesforce):
    from integrations.connectors.tryton import setup

    settings.THROUGHLINE_ALLOW_PRIVATE_PEERS = ["127.0.0.1"]
    setup.forget_lookups()
    crm = add_salesforce(fake_salesforce)
    instance = f"S{uuid.uuid4().hex[:6].upper()}:"
    psa = add_tryton(live_tryton, slug="tryton-psa", kind="psa", instance=instance)
    erp = add_tryton(live_tryton, slug="tryton-erp", kind="erp", instance=instance)
    load_reference()
    invoice_factories.tax_rate("US-NY", "0.08875")
    return {"crm": crm, "psa": psa, "erp": erp, "fake": fake_salesforce, "instance": instance}


def test_won_in_salesforce_billed_and_posted_in_tryton_and_the_status_back_in_salesforce(
    client, sf_tryton_firm, rpc, api_client_for
):
    firm, fake = sf_tryton_firm, sf_tryton_firm["fake"]
    account = fake.put_record("Account", {"Name": "Acme Consulting LLC"})
    opportunity_id = f"006{uuid.uuid4().hex[:15].upper()}"
    fake.put_record(
        "Opportunity", {"Id": opportunity_id, "Name": "Acme - ERP Rollout", "AccountId": account}
    )
    response = post_message(client, _won_opportunity(account, opportunity_id))
    assert b"<Ack>true</Ack>" in response.content
    drain()
    project = Project.objects.select_related("contract").get(
        contract__crm_opportunity_id=opportunity_id
    )
    assert project.psa_project_id  # the project exists in Tryton
    book_time(rpc, project, "DISC", NOV)
    assert poll(firm["psa"], "time").changed_count == 2
    [invoice] = bill_and_approve(api_client_for("finance"))
    assert invoice.status == Invoice.Status.POSTED
    booked = tryton_invoice(rpc, invoice, firm["instance"])
    assert booked["state"] == "posted" and booked["total_amount"] == invoice.gross_total
    [record] = [
        r for r in fake.records("Invoice__c").values() if r["Throughline_Id__c"] == str(invoice.pk)
    ]
    assert (record["Account__c"], record["Opportunity__c"]) == (account, opportunity_id)
    assert record["Status__c"] == "Posted" and record["Total__c"] == f"{invoice.gross_total:.2f}"
    upserts = fake.calls(f"/services/data/v62.0/sobjects/Invoice__c/Throughline_Id__c/{invoice.pk}")
    statuses = [call.json["Status__c"] for call in upserts]
    assert statuses == ["Approved", "Posting", "Posted"]  # each once, in order
    assert not OutboxMessage.objects.filter(status=OutboxMessage.Status.DEAD).exists()
