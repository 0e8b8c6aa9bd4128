"""Reference sync for systems without webhooks; the customers/ API and pages."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from integrations.models import SandboxRecord, SyncRun
from mdm.selectors import get_customer_by_crm_account_id
from mdm.services import sync_reference_data
from mdm.tasks import sync_reference_data_task
from tests.conftest import make_user
from tests.factories.mdm import CustomerFactory, crm_account, erp_customer

pytestmark = pytest.mark.django_db


def test_sync_pulls_changed_accounts_once_and_a_second_run_reads_nothing_new(systems, send):
    crm = systems["crm"][0]
    crm.settings = {"reference_sync": True}
    crm.save()
    send("crm", "crm.account.upserted", crm_account(account_id="001S", name="Synced Co"))
    SandboxRecord.objects.create(
        system=crm,
        operation="crm.account.update",
        object_type="account",
        external_id="001S",
        idempotency_key="peer-edit-1",
        data={"name": "Synced Company", "website": "synced.example"},
    )

    assert sync_reference_data_task() == {"crm": "finished"}
    run = SyncRun.objects.get()
    assert (run.read_count, run.changed_count, run.failed_count) == (1, 1, 0)
    assert get_customer_by_crm_account_id("001S").name == "Synced Company"

    second = sync_reference_data(system_id=crm.pk)
    assert (second.read_count, second.changed_count) == (0, 0)


def test_customers_api_filters_and_shows_owners(send, legal_entity, api_client_for):
    send("crm", "crm.account.upserted", crm_account(account_id="001A"))
    send(
        "erp",
        "erp.customer.upserted",
        erp_customer(customer_id="C-9", crm_account_id="001A"),
        minute=1,
    )
    client = api_client_for("finance")

    body = client.get("/api/v1/customers/", {"crm_account_id": "001A"}).json()
    assert body["count"] == 1
    row = body["results"][0]
    assert row["crm_account_id"] == "001A"
    assert row["erp_customer_ids"] == ["C-9"]
    assert row["field_owners"]["name"] == "crm"
    assert row["billing_profiles"][0]["field_owners"]["payment_terms"] == "erp"
    assert row["billing_profiles"][0]["payment_terms"] == "NET30"
    assert row["legal_entities"][0]["code"] == "US01"
    assert client.get("/api/v1/customers/", {"erp_customer_id": "C-9"}).json()["count"] == 1
    assert client.get("/api/v1/customers/", {"q": "northwind"}).json()["count"] == 1
    assert client.get("/api/v1/customers/", {"status": "merged"}).json()["count"] == 0


def test_customer_list_query_count_does_not_grow_with_rows(api_client_for):
    client = api_client_for("finance")
    CustomerFactory()
    with CaptureQueriesContext(connection) as one:
        assert client.get("/api/v1/customers/").status_code == 200
    CustomerFactory.create_batch(19)
    with CaptureQueriesContext(connection) as twenty:
        assert client.get("/api/v1/customers/").json()["count"] == 20
    assert len(one) == len(twenty)


def test_customers_api_needs_a_role(api_client_for):
    assert api_client_for().get("/api/v1/customers/").status_code == 403


def test_finance_pages_list_and_show_a_customer(client, send, legal_entity):
    send("crm", "crm.account.upserted", crm_account(account_id="001A"))
    send("erp", "erp.customer.upserted", erp_customer(customer_id="C-9", crm_account_id="001A"))
    customer = get_customer_by_crm_account_id("001A")
    client.force_login(make_user("fin", "finance"))

    listing = client.get("/customers/", {"q": "north"})
    assert listing.status_code == 200
    assert b"Northwind Traders" in listing.content
    detail = client.get(f"/customers/{customer.pk}/")
    assert detail.status_code == 200
    for text in (b"NET30", b"C-9", b"Golden record", b"History"):
        assert text in detail.content
