"""The customer master with Salesforce as the CRM: an account from an Outbound Message is the
customer; a change the ERP owns (payment terms) reaches the Salesforce account once, on the
org's field names; a repeat of the same change sends nothing."""

from datetime import UTC, datetime

import pytest

from integrations.models import OutboxMessage
from tests.factories.mdm import erp_customer
from tests.helpers import drain, envelope, post_event
from tests.salesforce.conftest import fixture_bytes, post_message

pytestmark = pytest.mark.django_db
ACME = "0015g00000ACME1AAP"


def _erp_says(client, firm, minute: int, **changes):
    data = erp_customer(customer_id="C-100", crm_account_id=ACME, **changes)
    body = envelope(
        "erp.customer.upserted", data, timestamp=datetime(2026, 12, 4, 12, minute, tzinfo=UTC)
    )
    assert post_event(client, "erp", firm["secrets"]["erp"], body).status_code == 202
    drain()


def test_an_erp_owned_change_reaches_the_salesforce_account_once(client, sf_firm):
    fake = sf_firm["fake"]
    fake.put_record("Account", {"Id": ACME, "Name": "Acme Consulting LLC"})
    post_message(client, fixture_bytes("om_account.xml"))
    drain()
    _erp_says(client, sf_firm, 1)  # links the ERP customer (terms NET30)
    _erp_says(client, sf_firm, 2, payment_terms="NET45")
    _erp_says(client, sf_firm, 3, payment_terms="NET45")  # the same again: nothing to send
    account = fake.records("Account")[ACME]
    assert account["Payment_Terms__c"] == "NET45"
    updates = [
        r
        for r in fake.calls(f"/services/data/v62.0/sobjects/Account/{ACME}")
        if r.method == "PATCH"
    ]
    terms = [r.json.get("Payment_Terms__c") for r in updates if "Payment_Terms__c" in r.json]
    assert terms[-1] == "NET45" and terms.count("NET45") == 1
    sent = OutboxMessage.objects.filter(system=sf_firm["crm"], kind="crm.account.update")
    assert all(m.status == OutboxMessage.Status.SENT for m in sent), [m.last_error for m in sent]
