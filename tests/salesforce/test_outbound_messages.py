"""Salesforce Outbound Messages at their endpoint: recorded messages (one account, contacts, a
batch of opportunities, duplicates, out of order, another org, malformed and hostile XML) make
the right canonical events once each and get the answer Salesforce needs."""

import pytest

from billing.models import Project
from integrations.connectors.salesforce.outbound_messages import ACK, parse
from integrations.models import FieldMapping, InboundEvent, RejectedDelivery
from integrations.services.inbox.outbound_messages import store_notifications
from mdm.models import Contact, Customer
from tests.helpers import drain
from tests.salesforce.conftest import fixture_bytes, post_message

pytestmark = pytest.mark.django_db
ACCOUNT = "0015g00000ACME1AAP"


def _events(**filters):
    return list(InboundEvent.objects.filter(**filters).order_by("id"))


def test_an_account_message_is_acknowledged_exactly_and_becomes_the_customer(client, sf_firm):
    response = post_message(client, fixture_bytes("om_account.xml"))
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/xml")
    assert response.content.decode() == ACK
    [event] = _events()
    assert (event.webhook_id, event.event_type) == ("om:04l5g00000NTF01AAH", "crm.account.upserted")
    assert event.payload["data"] == {
        "account_id": ACCOUNT,
        "name": "Acme Consulting LLC",
        "website": "https://acme.example",
        "industry": "Consulting",
        "phone": "+1 212 555 0100",
        "billing_country": "US",
        "updated_at": "2026-12-04T10:15:00.000+00:00",
    }
    assert b"<sf:Name>Acme Consulting LLC</sf:Name>" in event.raw_bytes  # the evidence
    drain()
    customer = Customer.objects.get()
    assert (customer.name, customer.website) == ("Acme Consulting LLC", "https://acme.example")


def test_a_repeated_message_is_acknowledged_again_and_stored_once(client, sf_firm):
    body = fixture_bytes("om_account.xml")
    first, second = post_message(client, body), post_message(client, body)
    assert first.content == second.content == ACK.encode()
    assert len(_events()) == 1
    drain()
    assert Customer.objects.count() == 1


def test_an_older_snapshot_arriving_late_changes_nothing(client, sf_firm):
    post_message(client, fixture_bytes("om_account.xml"))
    drain()
    assert post_message(client, fixture_bytes("om_account_older.xml")).status_code == 200
    drain()
    older = InboundEvent.objects.get(webhook_id="om:04l5g00000NTF02AAH")
    assert older.status == InboundEvent.Status.SUPERSEDED
    assert Customer.objects.get().name == "Acme Consulting LLC"


def test_contacts_of_a_known_account_become_its_contacts(client, sf_firm):
    post_message(client, fixture_bytes("om_account.xml"))
    assert post_message(client, fixture_bytes("om_contacts.xml")).content == ACK.encode()
    drain()
    contacts = Contact.objects.order_by("last_name")
    assert [(c.first_name, c.last_name) for c in contacts] == [("Alice", "Lee"), ("Bob", "Ortiz")]
    types = {e.event_type for e in _events()}
    assert types == {"crm.account.upserted", "crm.contact.upserted"}


def test_a_batch_of_opportunities_makes_a_project_per_won_deal_and_keeps_the_open_one(
    client, sf_firm
):
    post_message(client, fixture_bytes("om_account.xml"))
    response = post_message(client, fixture_bytes("om_opportunities.xml"))
    assert response.content == ACK.encode()
    won = _events(event_type="crm.opportunity.closed_won")
    assert [e.payload["data"]["opportunity_id"] for e in won] == [
        "0065g00000OPTM1AAP",
        "0065g00000OPFF2AAP",
    ]
    assert won[0].payload["data"]["billing_model"] == "time_and_materials"  # the picklist mapped
    assert won[1].payload["data"]["billing_model"] == "fixed_fee"
    [open_deal] = _events(event_type="salesforce.opportunity")
    assert open_deal.status == InboundEvent.Status.UNHANDLED
    assert open_deal.error == "the opportunity is not won"
    drain()
    projects = Project.objects.select_related("contract").order_by("contract__crm_opportunity_id")
    assert [p.contract.crm_opportunity_id for p in projects] == [
        "0065g00000OPFF2AAP",
        "0065g00000OPTM1AAP",
    ]
    assert {p.contract.crm_account_id for p in projects} == {ACCOUNT}


def test_nothing_is_lost_when_the_server_stops_between_storing_and_acknowledging(client, sf_firm):
    body = fixture_bytes("om_opportunities.xml")
    store_notifications(sf_firm["crm"], parse(body))  # stored, then the process died: no Ack
    assert len(_events()) == 3
    response = post_message(client, body)  # so Salesforce sends the message again
    assert response.content == ACK.encode()
    assert len(_events()) == 3


def test_another_organizations_message_is_refused_recorded_and_not_acknowledged(client, sf_firm):
    response = post_message(client, fixture_bytes("om_wrong_org.xml"))
    assert response.status_code == 403
    assert b"<Ack>" not in response.content and b"soapenv:Fault" in response.content
    assert not InboundEvent.objects.exists()
    refusal = RejectedDelivery.objects.get()
    assert refusal.reason == RejectedDelivery.Reason.WRONG_ORGANIZATION
    assert "00D5g000000OTHERAAA" in refusal.detail
    assert refusal.raw_base64  # kept, to look at


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("om_malformed.xml", RejectedDelivery.Reason.MALFORMED),
        ("om_not_soap.xml", RejectedDelivery.Reason.MALFORMED),
        ("om_xxe.xml", RejectedDelivery.Reason.HOSTILE_XML),
        ("om_billion_laughs.xml", RejectedDelivery.Reason.HOSTILE_XML),
    ],
)
def test_malformed_or_hostile_xml_is_a_400_fault_and_recorded(client, sf_firm, name, reason):
    response = post_message(client, fixture_bytes(name))
    assert response.status_code == 400
    assert b"soapenv:Fault" in response.content and b"root:" not in response.content
    assert not InboundEvent.objects.exists()
    assert RejectedDelivery.objects.get().reason == reason


def test_a_body_over_the_limit_is_refused_unread(client, sf_firm, settings):
    settings.WEBHOOK_MAX_BODY_BYTES = 1000
    response = post_message(client, fixture_bytes("om_opportunities.xml"))
    assert response.status_code == 413
    assert RejectedDelivery.objects.get().reason == RejectedDelivery.Reason.TOO_LARGE


def test_a_system_that_is_not_salesforce_is_refused(client, sf_firm):
    response = post_message(client, fixture_bytes("om_account.xml"), slug="psa")
    assert response.status_code == 404
    assert RejectedDelivery.objects.get().reason == RejectedDelivery.Reason.UNKNOWN_SYSTEM


def test_a_record_deleted_before_sending_is_kept_as_unhandled(client, sf_firm):
    assert post_message(client, fixture_bytes("om_deleted_record.xml")).content == ACK.encode()
    [event] = _events()
    assert event.status == InboundEvent.Status.UNHANDLED
    assert "deleted" in event.error


def test_a_message_without_a_session_id_is_read_the_same(client, sf_firm):
    assert post_message(client, fixture_bytes("om_nil_session.xml")).content == ACK.encode()
    assert _events()[0].event_type == "crm.account.upserted"


def test_the_mapping_is_edited_in_the_admin_with_history_and_used_at_once(
    client, sf_firm, admin_client
):
    row = FieldMapping.objects.get(system=sf_firm["crm"], record="account", field="name")
    assert row.source == "Name"  # seeded with the system
    response = admin_client.post(
        f"/admin/integrations/fieldmapping/{row.pk}/change/",
        {
            "system": sf_firm["crm"].pk,
            "record": "account",
            "field": "name",
            "source": "Throughline_Id__c",
            "values": "{}",
        },  # fmt: skip
    )
    assert response.status_code == 302, response.content
    assert row.history.count() == 2
    post_message(client, fixture_bytes("om_account.xml"))
    assert _events()[0].payload["data"]["name"] == "TL-000123"


def test_a_notification_rejected_by_a_wrong_mapping_is_replayed_with_the_fixed_one(
    client, sf_firm, api_client_for
):
    row = FieldMapping.objects.get(system=sf_firm["crm"], record="account", field="name")
    row.source = "Account_Name__c"  # a field the org's message does not carry: no name
    row.save()
    post_message(client, fixture_bytes("om_account.xml"))
    [event] = _events()
    assert event.status == InboundEvent.Status.REJECTED and "name" in str(event.error_details)
    api = api_client_for("operations")
    assert api.post(f"/api/v1/events/{event.pk}/replay/").json()["status"] == "rejected"
    row.source = "Name"  # fixed
    row.save()
    preview = api.get(f"/api/v1/events/{event.pk}/replay-preview/").json()
    assert preview["differs"] and preview["current"]["data"]["name"] == "Acme Consulting LLC"
    assert "name" not in preview["received"]["data"]
    replayed = api.post(f"/api/v1/events/{event.pk}/replay/?mapping=current")
    assert replayed.status_code == 202, replayed.content
    drain()
    event.refresh_from_db()
    assert event.status == InboundEvent.Status.PROCESSED
    assert Customer.objects.get().name == "Acme Consulting LLC"
    assert api.post(f"/api/v1/events/{event.pk}/replay/?mapping=sideways").status_code == 400


def test_an_event_that_came_signed_cannot_be_translated_again(client, sf_firm, api_client_for):
    from integrations.services.inbox.replay import replay_preview

    post_message(client, fixture_bytes("om_deleted_record.xml"))
    [event] = _events()
    event.webhook_id = "msg_plain"  # as a Standard Webhooks delivery would be
    event.save()
    assert replay_preview(event_id=event.pk)["current"] is None
    refused = api_client_for("operations").post(
        f"/api/v1/events/{event.pk}/replay/?mapping=current"
    )
    assert "cannot translate it again" in refused.json()["error"]


def test_a_rejected_notification_is_replayed_from_its_page_with_the_fixed_mapping(client, sf_firm):
    from tests.conftest import make_user

    row = FieldMapping.objects.get(system=sf_firm["crm"], record="account", field="name")
    row.source = "Account_Name__c"
    row.save()
    post_message(client, fixture_bytes("om_account.xml"))
    [event] = _events()
    row.source = "Name"
    row.save()
    make_user("olga", "operations")
    client.login(username="olga", password="pw-olga")
    page = client.get(f"/operations/events/{event.pk}/replay/").content.decode()
    assert "<code>data.name</code>" in page and "Acme Consulting LLC" in page
    client.post(f"/operations/events/{event.pk}/replay/", {"mapping": "current"})
    drain()
    event.refresh_from_db()
    assert event.status == InboundEvent.Status.PROCESSED
