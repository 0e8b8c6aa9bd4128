"""Change Data Capture from the fake org over CometD, polled like any peer without webhooks:
each change type as the canonical events it means, the replay id stored with the run and
resumed from (after a restart too), gap and overflow events re-read, echoes of our own writes
dropped, a replay id the org no longer keeps turned into a reconciliation."""

import json

import pytest

from integrations.connectors.salesforce import client as sf_client
from integrations.connectors.salesforce.cdc import Cursor
from integrations.models import InboundEvent, SyncRun
from integrations.services.polling import poll_system
from mdm.models import Customer
from tests.helpers import drain

pytestmark = pytest.mark.django_db
ACME, ACME2 = "0015g00000ACME1AAP", "0015g00000ACME2AAP"
CHANNEL = "/data/AccountChangeEvent"


def _poll(firm, stream: str = "accounts") -> SyncRun:
    run = poll_system(system_id=firm["crm"].pk, stream=stream)
    drain()
    return run


def _subscriptions(fake) -> list[dict]:
    """The subscribe messages Throughline sent, in order."""
    return [
        message
        for call in fake.calls("/cometd/*")
        for message in (call.json or [])
        if message.get("channel") == "/meta/subscribe"
    ]


def _accounts_in_salesforce(fake) -> None:
    fake.put_record("Account", {"Id": ACME, "Name": "Acme Consulting Group LLC",
                                "Website": "https://acme.example", "BillingCountry": "US",
                                "LastModifiedDate": "2026-12-04T10:15:00.000Z"})  # fmt: skip
    fake.put_record("Account", {"Id": ACME2, "Name": "Acme Europe GmbH", "BillingCountry": "DE",
                                "LastModifiedDate": "2026-12-04T10:16:00.000Z"})  # fmt: skip


def test_a_create_becomes_the_customer_and_the_replay_id_is_the_runs_cursor(sf_firm):
    fake = sf_firm["fake"]
    replay = fake.publish_fixture("cdc_account_create.json")
    run = _poll(sf_firm)
    assert (run.status, run.read_count, run.changed_count) == ("finished", 1, 1), run.errors
    assert Cursor.read(run.cursor).replay == replay
    assert _subscriptions(fake)[0]["ext"]["replay"] == {CHANNEL: -2}  # first run: all kept
    assert Customer.objects.get().name.startswith("Acme")


def test_the_next_run_resumes_from_the_stored_replay_id_even_in_a_new_process(sf_firm):
    fake = sf_firm["fake"]
    first = fake.publish_fixture("cdc_account_create.json")
    _poll(sf_firm)
    sf_client.forget_tokens()  # what a restarted worker has: nothing but the database
    _accounts_in_salesforce(fake)
    fake.publish_fixture("cdc_account_update.json")
    run = _poll(sf_firm)
    assert _subscriptions(fake)[-1]["ext"]["replay"] == {CHANNEL: first}
    assert (run.read_count, run.changed_count) == (1, 1)
    assert Customer.objects.get().name == "Acme Consulting Group LLC"


def test_a_run_that_fails_midway_keeps_the_cursor_and_the_next_reads_again_once(sf_firm):
    fake = sf_firm["fake"]
    fake.publish_fixture("cdc_account_create.json")
    fake.unavailable("/services/data/*/query", times=1)  # the update's re-read fails
    _accounts_in_salesforce(fake)
    fake.publish_fixture("cdc_account_update.json")
    failed = _poll(sf_firm)
    assert failed.status == SyncRun.Status.FAILED and "503" in failed.errors[0]
    assert not InboundEvent.objects.exists()  # nothing half-recorded
    again = _poll(sf_firm)
    assert (again.status, again.read_count, again.changed_count) == ("finished", 2, 2)
    assert _poll(sf_firm).changed_count == 0  # nothing more, nothing twice


def test_an_update_re_reads_the_record_and_sends_it_whole(sf_firm):
    fake = sf_firm["fake"]
    _accounts_in_salesforce(fake)
    fake.publish_fixture("cdc_account_update.json")
    _poll(sf_firm)
    [event] = InboundEvent.objects.all()
    assert event.payload["data"]["website"] == "https://acme.example"  # not in the event
    [query] = fake.calls("/services/data/v62.0/query")
    assert f"WHERE Id IN ('{ACME}')" in query.query["q"]


def test_a_gap_event_re_reads_its_records(sf_firm):
    fake = sf_firm["fake"]
    _accounts_in_salesforce(fake)
    fake.publish_fixture("cdc_account_gap_update.json")
    run = _poll(sf_firm)
    assert run.changed_count == 1
    assert InboundEvent.objects.get().payload["data"]["name"] == "Acme Consulting Group LLC"
    assert len(fake.calls("/services/data/v62.0/query")) == 1


def test_merged_record_ids_are_an_event_each_from_one_query(sf_firm):
    fake = sf_firm["fake"]
    _accounts_in_salesforce(fake)
    fake.publish_fixture("cdc_account_merged_ids.json")
    run = _poll(sf_firm)
    assert run.changed_count == 2
    names = sorted(e.payload["data"]["name"] for e in InboundEvent.objects.all())
    assert names == ["Acme Consulting Group LLC", "Acme Europe GmbH"]
    assert len(fake.calls("/services/data/v62.0/query")) == 1


def test_an_overflow_event_reconciles_the_entity_by_its_modstamp(sf_firm):
    fake = sf_firm["fake"]
    _accounts_in_salesforce(fake)  # last changed at 10:15 and 10:16: before the overflow
    for n in (1, 2):  # changed by the overflowing transaction, committed at 11:30
        fake.put_record("Account", {"Name": f"Acme Bulk {n}", "SystemModstamp": "2026-12-04T11:29:59.000Z",
                                    "LastModifiedDate": "2026-12-04T11:29:59.000Z"})  # fmt: skip
    fake.publish_fixture("cdc_account_gap_overflow.json")
    run = _poll(sf_firm)
    assert run.changed_count == 2
    assert "overflow" in run.errors[0]
    [query] = fake.calls("/services/data/v62.0/query")
    assert "WHERE SystemModstamp >= 2026-12-04T11:25:00Z" in query.query["q"]  # 5 minutes' margin
    names = sorted(e.payload["data"]["name"] for e in InboundEvent.objects.all())
    assert names == ["Acme Bulk 1", "Acme Bulk 2"]


def test_an_echo_of_our_own_write_is_dropped(sf_firm):
    fake = sf_firm["fake"]
    _accounts_in_salesforce(fake)
    fake.publish_fixture("cdc_account_echo.json")
    run = _poll(sf_firm)
    assert (run.read_count, run.changed_count) == (1, 0)
    assert not InboundEvent.objects.exists()
    assert not fake.calls("/services/data/v62.0/query")


def test_deletes_change_nothing_and_an_undelete_is_re_read(sf_firm):
    fake = sf_firm["fake"]
    _accounts_in_salesforce(fake)
    fake.publish_fixture("cdc_account_delete.json")
    fake.publish_fixture("cdc_account_undelete.json")
    run = _poll(sf_firm)
    assert (run.read_count, run.changed_count) == (2, 1)


def test_a_won_opportunity_update_is_re_read_into_a_closed_won_deal(sf_firm):
    fake = sf_firm["fake"]
    _accounts_in_salesforce(fake)
    fake.put_record("Opportunity", {
        "Id": "0065g00000OPTM1AAP", "AccountId": ACME, "Name": "Acme - ERP Rollout Phase 1",
        "IsWon": True, "StageName": "Closed Won", "CloseDate": "2026-12-03", "Amount": 120000.0,
        "CurrencyIsoCode": "USD", "Legal_Entity__c": "US01", "Billing_Model__c": "Time and Materials",
        "Start_Date__c": "2027-01-04", "End_Date__c": "2027-06-30", "Tax_Jurisdiction__c": "US-NY",
        "Project_Template__c": "TM-STD", "LastModifiedDate": "2026-12-04T11:00:00.000Z",
    })  # fmt: skip
    fake.publish_fixture("cdc_opportunity_closed_won.json")
    run = _poll(sf_firm, "opportunities")
    assert run.changed_count == 1, run.errors
    [event] = InboundEvent.objects.filter(event_type="crm.opportunity.closed_won")
    assert event.status == InboundEvent.Status.PROCESSED, event.error
    assert event.payload["data"]["amount"] == "120000.0"


def test_a_replay_id_the_org_no_longer_keeps_is_reconciled_and_resubscribed(sf_firm):
    fake = sf_firm["fake"]
    fake.publish_fixture("cdc_account_create.json")
    first = _poll(sf_firm)
    _accounts_in_salesforce(fake)
    later = fake.publish_fixture("cdc_account_update.json")
    fake.forget_events_before(CHANNEL, later + 1)  # down past the 72 hours
    run = _poll(sf_firm)
    assert run.status == SyncRun.Status.FINISHED
    assert "was refused" in run.errors[0] and "re-read" in run.errors[0]
    replays = [s["ext"]["replay"][CHANNEL] for s in _subscriptions(fake)]
    assert replays[-2:] == [Cursor.read(first.cursor).replay, -2]
    assert Customer.objects.get(name="Acme Europe GmbH")  # found by the reconciliation


def test_the_pub_sub_form_with_unchanged_fields_null_is_read_without_clearing_them():
    from integrations.connectors.salesforce import mapping
    from tests.salesforce.conftest import FIXTURES

    payload = json.loads((FIXTURES / "cdc_pubsub_decoded.json").read_text())
    body = payload.get("payload", payload)
    record = {k: v for k, v in body.items() if k != "ChangeEventHeader"}
    record["Id"] = body["ChangeEventHeader"]["recordIds"][0]
    translation = mapping.translate(mapping.default_mapping(), "account", record)
    assert None not in translation.data.values()  # null is "unchanged" there, not "cleared"


def test_compound_fields_of_a_create_are_read_as_their_rest_names(sf_firm):
    fake = sf_firm["fake"]
    fake.publish_fixture("cdc_account_create.json")
    fake.publish_fixture("cdc_contact_create.json")
    _poll(sf_firm)
    _poll(sf_firm, "contacts")
    account = InboundEvent.objects.get(event_type="crm.account.upserted")
    assert account.payload["data"]["billing_country"] == "US"  # BillingAddress.Country
    contact = InboundEvent.objects.get(event_type="crm.contact.upserted")
    assert contact.status == InboundEvent.Status.PROCESSED, contact.error
    data = contact.payload["data"]
    assert (data["first_name"], data["last_name"]) == ("Alice", "Lee")  # Name.FirstName …


def test_a_paused_org_is_not_polled_until_its_pause_ends(sf_firm):
    from integrations.services import breakers
    from integrations.services.polling import systems_to_poll

    assert {stream for _s, stream in systems_to_poll()} >= {"accounts", "contacts", "opportunities"}
    breakers.pause(system_id=sf_firm["crm"].pk, seconds=900, reason="quota spent")
    assert all(system.slug != "crm" for system, _stream in systems_to_poll())


def test_a_won_opportunity_created_is_read_whole(sf_firm):
    fake = sf_firm["fake"]
    _accounts_in_salesforce(fake)
    fake.put_record("Opportunity", {
        "Id": "0065g00000OPTM1AAP", "AccountId": ACME, "Account_Name__c": "Acme Consulting Group LLC",
        "Name": "Acme - ERP Rollout", "IsWon": True, "StageName": "Closed Won", "CloseDate": "2026-12-03",
        "Amount": 1000.0, "CurrencyIsoCode": "USD", "Legal_Entity__c": "US01",
        "Billing_Model__c": "Time and Materials",
        "Start_Date__c": "2027-01-04", "End_Date__c": "2027-06-30", "Tax_Jurisdiction__c": "US-NY",
        "Project_Template__c": "TM-STD", "LastModifiedDate": "2026-12-04T11:00:00.000Z"})  # fmt: skip
    fake.publish_change("/data/OpportunityChangeEvent", {
        "ChangeEventHeader": {"entityName": "Opportunity", "recordIds": ["0065g00000OPTM1AAP"],
                              "changeType": "CREATE", "changeOrigin": "", "transactionKey": "t-1",
                              "sequenceNumber": 1, "commitTimestamp": 1796380000000},
        "Name": "Acme - ERP Rollout", "IsWon": True})  # fmt: skip
    run = _poll(sf_firm, "opportunities")
    [event] = InboundEvent.objects.filter(event_type="crm.opportunity.closed_won")
    assert (
        run.changed_count == 1
        and event.payload["data"]["account_name"] == "Acme Consulting Group LLC"
    )
