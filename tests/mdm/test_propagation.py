"""Field ownership and propagation, through the signed webhook endpoint (docs/contract.md §1)."""

import pytest

from exceptions_queue.models import ExceptionItem
from integrations.models import InboundEvent, OutboxMessage, SandboxRecord
from mdm.models import Customer
from mdm.selectors import get_customer_by_crm_account_id
from tests.factories.mdm import crm_account, crm_contact, erp_customer

pytestmark = pytest.mark.django_db


@pytest.fixture
def linked(send, legal_entity):
    """A customer known to both the CRM (account 001A) and the ERP (customer C-100)."""
    send("crm", "crm.account.upserted", crm_account(account_id="001A"))
    send(
        "erp",
        "erp.customer.upserted",
        erp_customer(customer_id="C-100", crm_account_id="001A"),
        minute=1,
    )
    return get_customer_by_crm_account_id("001A")


def test_erp_customer_links_to_the_crm_account_and_creates_one_billing_profile(linked):
    assert Customer.objects.count() == 1
    profile = linked.billing_profiles.get()
    assert (profile.erp_customer_id, profile.payment_terms, profile.legal_entity.code) == (
        "C-100",
        "NET30",
        "US01",
    )
    assert linked.legal_name == "Northwind Traders Inc."


def test_a_crm_name_change_reaches_the_sandbox_erp_once(linked, send, systems):
    send(
        "crm",
        "crm.account.upserted",
        crm_account(account_id="001A", name="Northwind Global"),
        minute=2,
    )
    send(
        "crm",
        "crm.account.upserted",
        crm_account(account_id="001A", name="Northwind Global"),
        minute=3,
    )

    erp = systems["erp"][0]
    records = SandboxRecord.objects.filter(system=erp, operation="erp.customer.upsert")
    assert [(r.external_id, r.data["name"]) for r in records] == [("C-100", "Northwind Global")]
    assert not OutboxMessage.objects.filter(system=systems["crm"][0], kind="erp.customer.upsert")
    linked.refresh_from_db()
    assert linked.name == "Northwind Global"


def test_a_crm_event_carrying_new_payment_terms_changes_nothing_and_raises_one_conflict(
    linked, send, systems
):
    before = OutboxMessage.objects.count()
    send(
        "crm",
        "crm.account.upserted",
        crm_account(account_id="001A", payment_terms="NET60"),
        minute=2,
    )
    send(
        "crm",
        "crm.account.upserted",
        crm_account(account_id="001A", payment_terms="NET60"),
        minute=3,
    )

    assert linked.billing_profiles.get().payment_terms == "NET30"
    assert OutboxMessage.objects.count() == before
    item = ExceptionItem.objects.get(type_code="ownership_conflict")
    assert item.queue == "operations"
    assert item.occurrence_count == 2
    assert (item.details["field"], item.details["ours"], item.details["incoming"]) == (
        "payment_terms",
        "NET30",
        "NET60",
    )
    assert item.details["source_system"] == "crm"


def test_an_erp_sending_a_crm_owned_name_changes_nothing_and_raises_a_conflict(linked, send):
    send(
        "erp",
        "erp.customer.upserted",
        erp_customer(customer_id="C-100", crm_account_id="001A", name="Renamed"),
        minute=2,
    )
    linked.refresh_from_db()
    assert linked.name == "Northwind Traders"
    item = ExceptionItem.objects.get(type_code="ownership_conflict")
    assert (item.details["field"], item.details["owner"], item.details["source_kind"]) == (
        "name",
        "crm",
        "erp",
    )


def test_an_erp_terms_change_reaches_the_crm_and_its_echo_does_not_loop(linked, send, systems):
    crm, erp = systems["crm"][0], systems["erp"][0]
    send(
        "erp",
        "erp.customer.upserted",
        erp_customer(customer_id="C-100", crm_account_id="001A", payment_terms="NET45"),
        minute=2,
    )

    terms = [
        r.data["payment_terms"]
        for r in SandboxRecord.objects.filter(system=crm, operation="crm.account.update")
        if "payment_terms" in r.data
    ]
    assert terms[-1] == "NET45"
    assert not SandboxRecord.objects.filter(system=erp, operation="erp.customer.upsert").exists()
    messages = OutboxMessage.objects.count()
    history = linked.history.count()

    # The CRM echoes our write back with the account as it now is (terms in a custom field).
    send(
        "crm",
        "crm.account.upserted",
        crm_account(account_id="001A", payment_terms="NET45"),
        minute=3,
    )

    assert OutboxMessage.objects.count() == messages
    assert linked.history.count() == history
    assert not ExceptionItem.objects.filter(type_code="ownership_conflict").exists()


def test_an_older_update_arriving_late_is_ignored(linked, send):
    send(
        "crm", "crm.account.upserted", crm_account(account_id="001A", name="Newest Name"), minute=10
    )
    send("crm", "crm.account.upserted", crm_account(account_id="001A", name="Older Name"), minute=5)

    linked.refresh_from_db()
    assert linked.name == "Newest Name"
    assert InboundEvent.objects.filter(status=InboundEvent.Status.SUPERSEDED).count() == 1


def test_contacts_attach_to_their_account_and_the_billing_contact_reaches_the_erp(
    linked, send, systems
):
    send("crm", "crm.contact.upserted", crm_contact(contact_id="003X", account_id="001A"), minute=2)

    contact = linked.contacts.get()
    assert contact.email == "ada@northwind.example"
    assert linked.billing_profiles.get().billing_contact == contact
    record = SandboxRecord.objects.filter(
        system=systems["erp"][0], operation="erp.customer.upsert"
    ).last()
    assert record.data["billing_contact"]["email"] == "ada@northwind.example"


def test_a_contact_before_its_account_waits_and_applies_once_the_account_arrives(
    send, legal_entity
):
    send("crm", "crm.contact.upserted", crm_contact(contact_id="003Y", account_id="001Z"))
    assert (
        InboundEvent.objects.get(event_type="crm.contact.upserted").status
        == InboundEvent.Status.FAILED
    )


def test_hierarchy_links_children_and_refuses_a_cycle(send):
    send(
        "crm",
        "crm.account.upserted",
        crm_account(account_id="001C", name="Child Co", parent_account_id="001P"),
    )
    send(
        "crm",
        "crm.account.upserted",
        crm_account(account_id="001P", name="Parent Holdings"),
        minute=1,
    )
    child, parent = get_customer_by_crm_account_id("001C"), get_customer_by_crm_account_id("001P")
    assert child.parent == parent

    send(
        "crm",
        "crm.account.upserted",
        crm_account(account_id="001P", name="Parent Holdings", parent_account_id="001C"),
        minute=2,
    )
    parent.refresh_from_db()
    assert parent.parent is None
