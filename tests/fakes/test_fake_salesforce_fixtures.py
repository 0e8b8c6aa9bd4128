"""The hand-written Salesforce fixtures are what they claim to be: well-formed ids with the right
prefixes, the SOAP namespaces of Outbound Messages, the CometD and Pub/Sub shapes of change
events, and hostile files that a safe parser refuses."""

import json
import re
from xml.etree.ElementTree import ParseError

import pytest
from defusedxml import ElementTree
from defusedxml.common import DTDForbidden, EntitiesForbidden
from lxml import etree

from tests.fakes.salesforce import FIXTURES
from tests.fakes.salesforce_store import is_well_formed

SOAP = "{http://schemas.xmlsoap.org/soap/envelope/}"
OUT = "{http://soap.sforce.com/2005/09/outbound}"
SF = "{urn:sobject.enterprise.soap.sforce.com}"
XSI = "{http://www.w3.org/2001/XMLSchema-instance}"
ORG = "00D5g000000TEST1EAA"
PREFIXES = {"Account": "001", "Contact": "003", "Opportunity": "006"}
GOOD_OM = [
    "om_account.xml",
    "om_account_older.xml",
    "om_contacts.xml",
    "om_opportunities.xml",
    "om_wrong_org.xml",
    "om_nil_session.xml",
    "om_deleted_record.xml",
]
CDC = sorted(p.name for p in FIXTURES.glob("cdc_*.json") if p.name != "cdc_pubsub_decoded.json")
HEADER_KEYS = {
    "entityName",
    "recordIds",
    "changeType",
    "changeOrigin",
    "transactionKey",
    "sequenceNumber",
    "commitTimestamp",
    "commitNumber",
    "commitUser",
    "nulledFields",
    "diffFields",
    "changedFields",
}


def notifications(name):
    root = ElementTree.parse(FIXTURES / name).getroot()
    assert root.tag == f"{SOAP}Envelope"
    (body,) = root.findall(f"{SOAP}Body")
    (found,) = body.findall(f"{OUT}notifications")
    return found


def sobjects(name):
    """[(notification id, sObject type, {field: text or None when nil})]."""
    result = []
    for notification in notifications(name).findall(f"{OUT}Notification"):
        sobject = notification.find(f"{OUT}sObject")
        kind = sobject.get(f"{XSI}type").partition(":")[2]
        fields = {}
        for child in sobject:
            assert child.tag.startswith(SF), child.tag
            nil = child.get(f"{XSI}nil") == "true"
            fields[child.tag[len(SF) :]] = None if nil else child.text
        assert next(iter(fields)) == "Id"
        result.append((notification.findtext(f"{OUT}Id"), kind, fields))
    return result


def test_the_readme_names_every_fixture_once():
    named = re.findall(r"^- `([^`]+)`", (FIXTURES / "README.md").read_text(), flags=re.MULTILINE)
    on_disk = sorted(p.name for p in FIXTURES.iterdir() if p.name != "README.md")
    assert sorted(named) == on_disk


@pytest.mark.parametrize("name", GOOD_OM)
def test_outbound_messages_have_the_documented_envelope(name):
    found = notifications(name)
    children = [child.tag[len(OUT) :] for child in found]
    assert children[:5] == [
        "OrganizationId",
        "ActionId",
        "SessionId",
        "EnterpriseUrl",
        "PartnerUrl",
    ]
    assert set(children[5:]) == {"Notification"}
    assert is_well_formed(found.findtext(f"{OUT}ActionId"), "04k")
    expected_org = "00D5g000000OTHERAAA" if name == "om_wrong_org.xml" else ORG
    assert found.findtext(f"{OUT}OrganizationId") == expected_org
    for notification_id, kind, fields in sobjects(name):
        assert is_well_formed(notification_id, "04l")
        assert is_well_formed(fields["Id"], PREFIXES[kind])
        assert fields.get("AccountId") is None or is_well_formed(fields["AccountId"], "001")


@pytest.mark.parametrize("name", GOOD_OM)
def test_the_xsi_type_prefix_is_bound_to_the_sobject_namespace(name):
    parser = etree.XMLParser(resolve_entities=False, no_network=True)
    tree = etree.parse(str(FIXTURES / name), parser)
    for sobject in tree.iter(f"{OUT}sObject"):
        prefix = sobject.get(f"{XSI}type").partition(":")[0]
        assert "{" + sobject.nsmap[prefix] + "}" == SF


def test_notification_ids_are_unique_across_the_fixtures():
    ids = [n for name in GOOD_OM for n, _, _ in sobjects(name)]
    assert len(ids) == len(set(ids))


def test_the_account_and_its_older_snapshot():
    ((first_id, kind, current),) = sobjects("om_account.xml")
    ((older_id, _, older),) = sobjects("om_account_older.xml")

    assert kind == "Account"
    assert set(current) == {
        "Id",
        "Name",
        "Website",
        "Industry",
        "Phone",
        "BillingCountry",
        "Throughline_Id__c",
        "LastModifiedDate",
    }
    assert current["BillingCountry"] == "US"
    assert older["Id"] == current["Id"] and older_id != first_id
    assert older["LastModifiedDate"] < current["LastModifiedDate"]
    assert older["Name"] != current["Name"]
    assert notifications("om_account.xml").findtext(f"{OUT}SessionId")


def test_contacts_opportunities_and_the_special_envelopes():
    contacts = sobjects("om_contacts.xml")
    assert [f["Billing_Contact__c"] for _, _, f in contacts] == ["true", "false"]
    opportunities = [fields for _, _, fields in sobjects("om_opportunities.xml")]
    won = [f for f in opportunities if f["StageName"] == "Closed Won"]
    assert len(opportunities) == 3 and len(won) == 2
    assert all(f["IsWon"] == "true" and f["Legal_Entity__c"] == "US01" for f in won)
    assert {f["Billing_Model__c"] for f in won} == {"Time and Materials", "Fixed Fee"}
    assert [f["IsWon"] for f in opportunities if f not in won] == ["false"]
    session = notifications("om_nil_session.xml").find(f"{OUT}SessionId")
    assert session.get(f"{XSI}nil") == "true" and not session.text
    ((_, _, deleted),) = sobjects("om_deleted_record.xml")
    assert list(deleted) == ["Id"]


def test_the_hostile_and_broken_files_are_refused():
    with pytest.raises(ParseError):
        ElementTree.parse(FIXTURES / "om_malformed.xml")
    for name in ("om_xxe.xml", "om_billion_laughs.xml"):
        with pytest.raises(EntitiesForbidden):
            ElementTree.parse(FIXTURES / name)
        with pytest.raises(DTDForbidden):
            ElementTree.parse(FIXTURES / name, forbid_dtd=True)
    root = ElementTree.parse(FIXTURES / "om_not_soap.xml").getroot()
    assert root.tag == f"{OUT}notifications"


@pytest.mark.parametrize("name", CDC)
def test_change_events_have_the_cometd_shape(name):
    message = json.loads((FIXTURES / name).read_text())
    data = message["data"]
    assert set(data) == {"schema", "event", "payload"}
    header = data["payload"]["ChangeEventHeader"]
    assert set(header) == HEADER_KEYS
    assert message["channel"] == f"/data/{header['entityName']}ChangeEvent"
    assert isinstance(data["event"]["replayId"], int)
    assert all(is_well_formed(i, PREFIXES[header["entityName"]]) for i in header["recordIds"])
    assert is_well_formed(header["commitUser"], "005")
    assert len(str(header["commitTimestamp"])) == 13  # epoch milliseconds
    fields = set(data["payload"]) - {"ChangeEventHeader"}
    if header["changeType"] == "UPDATE":
        assert "LastModifiedDate" in header["changedFields"]
        assert {f.split(".")[0] for f in header["changedFields"]} == fields
    else:
        assert header["changedFields"] == []
    if header["changeType"].startswith("GAP_") or header["changeType"] == "DELETE":
        assert fields == set()


def test_the_change_events_cover_the_documented_cases():
    events = {name: json.loads((FIXTURES / name).read_text()) for name in CDC}
    headers = {name: e["data"]["payload"]["ChangeEventHeader"] for name, e in events.items()}
    replay_ids = [e["data"]["event"]["replayId"] for e in events.values()]
    assert len(set(replay_ids)) == len(replay_ids)
    assert len(headers["cdc_account_merged_ids.json"]["recordIds"]) == 2
    assert headers["cdc_account_gap_update.json"]["changeType"] == "GAP_UPDATE"
    assert headers["cdc_account_gap_overflow.json"]["recordIds"] == []
    assert headers["cdc_account_echo.json"]["changeOrigin"].endswith(";client=throughline")
    won = events["cdc_opportunity_closed_won.json"]["data"]["payload"]
    assert (won["StageName"], won["IsWon"]) == ("Closed Won", True)


def decode_bitmap(bitmaps, order, nested):
    """Field names of Pub/Sub bitmap strings: ``0x…`` over the top-level schema fields,
    ``<parent index>-0x…`` over a compound field's own fields."""
    names = []
    for bitmap in bitmaps:
        parent, _, bits = bitmap.rpartition("-")
        value = int(bits, 16)
        fields = nested[order[int(parent)]] if parent else order
        prefix = f"{order[int(parent)]}." if parent else ""
        names += [prefix + fields[i] for i in range(value.bit_length()) if value >> i & 1]
    return names


def test_the_decoded_pubsub_event_is_self_consistent():
    event = json.loads((FIXTURES / "cdc_pubsub_decoded.json").read_text())
    order, nested, payload = (
        event["schema_field_order"],
        event["schema_nested_field_order"],
        event["payload"],
    )
    header = payload["ChangeEventHeader"]

    assert list(payload) == order  # every field present
    changed = decode_bitmap(header["changedFields"], order, nested)
    assert changed == [
        "Name",
        "Phone",
        "Website",
        "Industry",
        "LastModifiedDate",
        "BillingAddress.Country",
    ]
    assert decode_bitmap(header["nulledFields"], order, nested) == ["Fax"]
    assert payload["Fax"] is None and isinstance(payload["LastModifiedDate"], int)
    unchanged = set(order) - {c.split(".")[0] for c in changed} - {"ChangeEventHeader"}
    assert all(payload[name] is None for name in unchanged)
    assert bytes.fromhex(event["replay_id"])
