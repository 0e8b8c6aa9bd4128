"""Duplicates raised on create, "not a duplicate" remembered, merge re-points everything."""

import pytest

from exceptions_queue.models import ExceptionItem
from exceptions_queue.services import resolve_exception_item
from integrations.models import ExternalRef, SandboxRecord
from mdm.models import Customer, DuplicateDecision
from mdm.selectors import get_customer_by_crm_account_id
from mdm.services import match_or_create_customer
from tests.conftest import make_user
from tests.factories.mdm import crm_account, crm_contact, erp_customer
from tests.helpers import drain

pytestmark = pytest.mark.django_db


@pytest.fixture
def pair(send, legal_entity):
    """Two CRM accounts of one client, each with a contact, one also in the ERP."""
    send(
        "crm", "crm.account.upserted", crm_account(account_id="001A", name="Northwind Traders Inc.")
    )
    send("crm", "crm.contact.upserted", crm_contact(contact_id="003A", account_id="001A"), minute=1)
    send(
        "erp",
        "erp.customer.upserted",
        erp_customer(customer_id="C-1", crm_account_id="001A"),
        minute=1,
    )
    send(
        "crm",
        "crm.account.upserted",
        crm_account(account_id="001B", name="NORTHWIND TRADERS LLC", website="northwind.example"),
        minute=2,
    )
    send(
        "crm",
        "crm.contact.upserted",
        crm_contact(contact_id="003B", account_id="001B", email="bob@northwind.example"),
        minute=3,
    )
    send(
        "crm",
        "crm.account.upserted",
        crm_account(account_id="001K", name="Kid Co", parent_account_id="001B"),
        minute=3,
    )
    return get_customer_by_crm_account_id("001A"), get_customer_by_crm_account_id("001B")


def test_a_likely_duplicate_raises_one_finance_item_with_reasons(pair):
    first, second = pair
    item = ExceptionItem.objects.get(type_code="duplicate_customer")
    assert item.queue == "finance"
    assert item.details["pair"] == [first.pk, second.pk]
    assert any("same website domain" in reason for reason in item.details["reasons"])
    assert [r["name"] for r in item.details["records"]] == [first.name, second.name]


def test_merge_repoints_everything_and_shows_in_both_histories(pair, systems):
    first, second = pair
    finance = make_user("fin", "finance")
    item = ExceptionItem.objects.get(type_code="duplicate_customer")

    resolve_exception_item(
        item_id=item.pk, action="merge", user=finance, data={"survivor": "first"}
    )
    drain()

    first.refresh_from_db()
    second.refresh_from_db()
    assert (second.status, second.merged_into) == (Customer.Status.MERGED, first)
    assert sorted(first.contacts.values_list("email", flat=True)) == [
        "ada@northwind.example",
        "bob@northwind.example",
    ]
    assert Customer.objects.get(name="Kid Co").parent == first
    assert not ExternalRef.objects.filter(object_id=str(second.pk), object_type="account")
    assert get_customer_by_crm_account_id("001B") == first
    assert first.history.first().history_change_reason.startswith(
        f"absorbed {second.throughline_id}"
    )
    assert second.history.first().history_change_reason.startswith(
        f"merged into {first.throughline_id}"
    )
    merge = SandboxRecord.objects.get(system=systems["crm"][0], operation="crm.account.merge")
    assert merge.data["merged_external_ids"] == ["001B"]
    item.refresh_from_db()
    assert item.status == ExceptionItem.Status.RESOLVED


def test_merge_moves_rows_of_any_model_pointing_at_customer(pair):
    from mdm.services.merge import related_models

    labels = {model._meta.label for model in related_models()}
    assert {"mdm.Contact", "mdm.BillingProfile", "mdm.Customer"} <= labels


def test_not_a_duplicate_is_never_raised_again(pair, send):
    first, second = pair
    finance = make_user("fin", "finance")
    item = ExceptionItem.objects.get(type_code="duplicate_customer")
    resolve_exception_item(item_id=item.pk, action="not_duplicate", user=finance, data={})
    assert DuplicateDecision.objects.filter(low=first, high=second).exists()

    send(
        "crm",
        "crm.account.upserted",
        crm_account(account_id="001B", name="Northwind Traders LLC", website="northwind.example"),
        minute=5,
    )
    assert ExceptionItem.objects.filter(type_code="duplicate_customer").count() == 1
    assert not ExceptionItem.objects.filter(type_code="duplicate_customer", status="open").exists()


def test_accepting_an_incoming_value_once_applies_it_and_tells_the_owner(pair, send, systems):
    first, _second = pair
    send(
        "crm",
        "crm.account.upserted",
        crm_account(account_id="001A", name="Northwind Traders Inc.", payment_terms="NET60"),
        minute=6,
    )
    item = ExceptionItem.objects.get(type_code="ownership_conflict")
    ops = make_user("ops", "operations")

    resolve_exception_item(item_id=item.pk, action="accept_incoming", user=ops, data={})

    assert first.billing_profiles.get().payment_terms == "NET60"
    drain()
    sent = SandboxRecord.objects.filter(system=systems["erp"][0], operation="erp.customer.upsert")
    assert sent.last().data["payment_terms"] == "NET60"


def test_match_or_create_reuses_the_crm_ref_then_a_strong_match_else_creates(pair, systems):
    first, _second = pair
    assert match_or_create_customer(crm_account_id="001A", name="anything") == (first, False)
    again, created = match_or_create_customer(
        crm_account_id="001NEW", name="Northwind Traders Incorporated", billing_country="US"
    )
    assert (again, created) == (first, False)
    assert get_customer_by_crm_account_id("001NEW") == first
    other, created = match_or_create_customer(crm_account_id="001Q", name="Quillix Robotics")
    assert created and other.name == "Quillix Robotics"
