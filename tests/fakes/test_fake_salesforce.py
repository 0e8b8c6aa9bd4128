"""The fake Salesforce's REST API answers in the documented shapes, through simple-salesforce
exactly as the connector calls it, and through raw requests where the shape itself matters."""

import pytest
import requests
from simple_salesforce.exceptions import (
    SalesforceMalformedRequest,
    SalesforceMoreThanOneRecord,
    SalesforceResourceNotFound,
)

from tests.fakes.salesforce import FakeSalesforce
from tests.fakes.salesforce_store import is_well_formed
from tests.fakes.salesforce_wsgi import WSGIAdapter

BASE = "https://sf.test/services/data/v62.0"
CALL_OPTIONS = {"Sforce-Call-Options": "client=throughline"}


def account(value, **fields):
    return {"attributes": {"type": "Account"}, "Throughline_Id__c": value, **fields}


def test_upsert_creates_then_updates_and_records_the_request(fake, sf):
    assert (
        sf.Account.upsert("Throughline_Id__c/TL-1", {"Name": "Acme"}, headers=CALL_OPTIONS) == 201
    )
    assert sf.Account.upsert("Throughline_Id__c/TL-1", {"Name": "Acme Group"}) == 200

    (record_id, record), *others = fake.records("Account").items()
    assert not others
    assert is_well_formed(record_id, "001") and len(record_id) == 18
    assert record["Id"] == record_id
    assert record["Name"] == "Acme Group" and record["Throughline_Id__c"] == "TL-1"
    assert record["LastModifiedDate"] == "2026-12-04T10:00:01.000+0000" == record["SystemModstamp"]
    first = fake.requests[0]
    assert (first.method, first.host, first.status) == ("PATCH", "sf.test", 201)
    assert first.path == "/services/data/v62.0/sobjects/Account/Throughline_Id__c/TL-1"
    assert first.headers["sforce-call-options"] == "client=throughline"
    assert first.json == {"Name": "Acme"} and first.body == b'{"Name": "Acme"}'


def test_upsert_answer_bodies(fake, http):
    created = http.patch(f"{BASE}/sobjects/Account/Throughline_Id__c/TL-1", json={"Name": "A"})
    updated = http.patch(f"{BASE}/sobjects/Account/Throughline_Id__c/TL-1", json={"Name": "B"})

    record_id = next(iter(fake.records("Account")))
    assert created.status_code == 201
    assert created.json() == {"id": record_id, "success": True, "errors": [], "created": True}
    assert updated.status_code == 200
    assert updated.json() == {"id": record_id, "success": True, "errors": [], "created": False}
    assert created.headers["Content-Type"].startswith("application/json")


def test_upsert_refuses_the_external_id_field_in_the_body(fake, sf):
    with pytest.raises(SalesforceMalformedRequest) as refused:
        sf.Account.upsert("Throughline_Id__c/TL-1", {"Throughline_Id__c": "TL-1", "Name": "A"})
    assert refused.value.content[0]["errorCode"] == "INVALID_FIELD"
    assert fake.records("Account") == {}


def test_upsert_on_a_value_two_records_share_answers_300_with_their_urls(fake, sf):
    first = fake.put_record("Account", {"Throughline_Id__c": "TL-1", "Name": "A"})
    second = fake.put_record("Account", {"Throughline_Id__c": "TL-1", "Name": "B"})

    with pytest.raises(SalesforceMoreThanOneRecord) as several:
        sf.Account.upsert("Throughline_Id__c/TL-1", {"Name": "C"})
    assert several.value.status == 300
    assert several.value.content == [
        f"/services/data/v62.0/sobjects/Account/{first}",
        f"/services/data/v62.0/sobjects/Account/{second}",
    ]


def test_update_only_upsert_without_a_match_is_not_found(fake, http):
    answer = http.patch(
        f"{BASE}/sobjects/Account/Throughline_Id__c/TL-9?updateOnly=true", json={"Name": "A"}
    )
    assert answer.status_code == 404
    assert answer.json()[0]["errorCode"] == "NOT_FOUND"
    assert fake.records("Account") == {}
    assert fake.requests[-1].query == {"updateOnly": "true"}


def test_lookups_by_external_id_in_the_body_are_resolved(fake, sf):
    account_id = fake.put_record("Account", {"Throughline_Id__c": "TL-1", "Name": "Acme"})
    opportunity_id = fake.put_record("Opportunity", {"Name": "Deal", "AccountId": account_id})

    sf.Opportunity.upsert("Throughline_Id__c/OPP-1", {"Account": {"Throughline_Id__c": "TL-1"}})
    sf.Invoice__c.upsert(
        "Throughline_Id__c/INV-1",
        {"Account__r": {"Throughline_Id__c": "TL-1"}, "Opportunity__r": {"Id": opportunity_id}},
    )

    (opportunity,) = [r for r in fake.records("Opportunity").values() if r.get("Throughline_Id__c")]
    assert opportunity["AccountId"] == account_id and "Account" not in opportunity
    (invoice_id, invoice), *_ = fake.records("Invoice__c").items()
    assert invoice["Account__c"] == account_id and invoice["Opportunity__c"] == opportunity_id
    assert invoice_id.startswith("a01") and is_well_formed(invoice_id)


def test_a_lookup_to_an_unknown_external_id_is_an_invalid_field(fake, sf):
    with pytest.raises(SalesforceMalformedRequest) as refused:
        sf.Opportunity.upsert(
            "Throughline_Id__c/OPP-1", {"Account__r": {"Throughline_Id__c": "TL-1"}}
        )
    assert refused.value.content == [
        {
            "message": "Foreign key external ID: TL-1 not found for field Throughline_Id__c "
            "in entity Account",
            "errorCode": "INVALID_FIELD",
            "fields": [],
        }
    ]


def test_update_by_id_answers_204_and_unknown_or_deleted_ids_404(fake, sf, http):
    record_id = fake.put_record("Account", {"Name": "Acme"})
    assert sf.Account.update(record_id, {"Phone": "+1 212 555 0100"}) == 204
    assert fake.records("Account")[record_id]["Phone"] == "+1 212 555 0100"

    missing = http.patch(f"{BASE}/sobjects/Account/001000000000000AAA", json={"Name": "X"})
    assert missing.status_code == 404
    assert missing.json() == [
        {"errorCode": "NOT_FOUND", "message": "The requested resource does not exist"}
    ]
    fake.delete_record("Account", record_id)
    gone = http.patch(f"{BASE}/sobjects/Account/{record_id}", json={"Name": "X"})
    assert gone.status_code == 404 and gone.json()[0]["errorCode"] == "ENTITY_IS_DELETED"


def test_get_shows_the_record_with_its_attributes(fake, sf):
    record_id = fake.put_record(
        "Account", {"Name": "Acme", "LastModifiedDate": "2026-11-30T08:00:00.000+0000"}
    )

    assert sf.Account.get(record_id) == {
        "attributes": {
            "type": "Account",
            "url": f"/services/data/v62.0/sobjects/Account/{record_id}",
        },
        "Id": record_id,
        "Name": "Acme",
        "LastModifiedDate": "2026-11-30T08:00:00.000+0000",
        "SystemModstamp": "2026-11-30T08:00:00.000+0000",
    }
    assert sf.Account.get(record_id[:15])["Id"] == record_id  # the 15-character form works too
    fake.delete_record("Account", record_id)
    with pytest.raises(SalesforceResourceNotFound) as gone:
        sf.Account.get(record_id)
    assert gone.value.content[0]["errorCode"] == "ENTITY_IS_DELETED"
    with pytest.raises(SalesforceResourceNotFound) as unknown:
        sf.Account.get("0015g00000NOPE0AAA")
    assert unknown.value.content[0]["errorCode"] == "NOT_FOUND"


def test_query_by_ids_and_by_system_modstamp(fake, sf):
    old = fake.put_record(
        "Account", {"Name": "Old", "SystemModstamp": "2026-12-01T09:00:00.000+0000"}
    )
    new = fake.put_record(
        "Account", {"Name": "New", "SystemModstamp": "2026-12-04T10:30:00.000+0000"}
    )
    fake.put_record("Account", {"Name": "Other"})

    by_ids = sf.query(f"SELECT Id, Name FROM Account WHERE Id IN ('{old}', '{new[:15]}')")
    assert by_ids["totalSize"] == 2 and by_ids["done"] is True
    assert [r["Name"] for r in by_ids["records"]] == ["Old", "New"]
    assert by_ids["records"][0] == {
        "attributes": {"type": "Account", "url": f"/services/data/v62.0/sobjects/Account/{old}"},
        "Id": old,
        "Name": "Old",
    }
    recent = sf.query("SELECT Name FROM Account WHERE SystemModstamp >= 2026-12-04T10:30:00Z")
    assert [r["Name"] for r in recent["records"]] == ["New"]
    assert fake.requests[-1].path == "/services/data/v62.0/query/"


def test_an_unsupported_query_is_malformed(sf):
    with pytest.raises(SalesforceMalformedRequest) as refused:
        sf.query("SELECT Id FROM Account WHERE Name LIKE 'A%' OR Name = 'B'")
    assert refused.value.content[0]["errorCode"] == "MALFORMED_QUERY"


def test_limits_and_the_usage_header_count_every_call(fake, sf):
    sf.restful("limits")
    limits = sf.restful("limits")

    assert limits == {"DailyApiRequests": {"Max": 5000, "Remaining": 4998}}
    assert fake.api_used == 2
    assert sf.api_usage["api-usage"].used == 2 and sf.api_usage["api-usage"].total == 5000


def test_a_call_once_the_limit_is_reached_is_refused(http):
    fake = FakeSalesforce(api_limit=2)
    session = fake.session()
    session.headers["Authorization"] = f"Bearer {fake.issue_token()}"
    assert [session.get(f"{BASE}/limits").status_code for _ in range(3)] == [200, 200, 403]

    refused = session.get(f"{BASE}/limits")
    assert refused.json()[0]["errorCode"] == "REQUEST_LIMIT_EXCEEDED"
    assert refused.headers["Sforce-Limit-Info"] == "api-usage=2/2"


def test_the_versions_list_needs_no_token_and_carries_no_usage(fake):
    answer = fake.session().get("https://sf.test/services/data/")

    assert answer.status_code == 200
    assert answer.json()[-1] == {
        "label": "Winter '25",
        "url": "/services/data/v62.0",
        "version": "62.0",
    }
    assert "Sforce-Limit-Info" not in answer.headers
    assert fake.api_used == 0


def test_another_version_and_an_unknown_path_are_not_found(http):
    other = http.get("https://sf.test/services/data/v59.0/limits")
    unknown = http.get(f"{BASE}/nowhere/at/all")

    assert other.status_code == unknown.status_code == 404
    assert other.json()[0]["errorCode"] == unknown.json()[0]["errorCode"] == "NOT_FOUND"
    assert other.headers["Sforce-Limit-Info"] == "api-usage=1/5000"
    assert http.get("https://sf.test/somewhere").json()[0]["errorCode"] == "NOT_FOUND"


def test_a_platform_event_is_published_and_recorded(fake, http):
    answer = http.post(f"{BASE}/sobjects/Invoice_Status__e", json={"Invoice__c": "INV-1"})

    assert answer.status_code == 201
    body = answer.json()
    assert body["success"] is True and body["errors"] == []
    assert body["id"].startswith("e00") and is_well_formed(body["id"])
    assert fake.published_events == [("Invoice_Status__e", {"Invoice__c": "INV-1"})]


def test_collections_upsert_answers_in_order(fake, sf):
    existing = fake.put_record("Account", {"Throughline_Id__c": "TL-2", "Name": "Old"})

    results = sf.restful(
        "composite/sobjects/Account/Throughline_Id__c",
        method="PATCH",
        json={
            "allOrNone": False,
            "records": [account("TL-1", Name="A"), account("TL-2", Name="B")],
        },
    )

    created_id = next(i for i in fake.records("Account") if i != existing)
    assert results == [
        {"id": created_id, "success": True, "errors": [], "created": True},
        {"id": existing, "success": True, "errors": [], "created": False},
    ]
    assert fake.records("Account")[existing]["Name"] == "B"
    assert fake.api_used == 1  # one call for the whole batch


def test_collections_refuse_more_than_200_records(fake, sf):
    records = [account(f"TL-{n}") for n in range(201)]
    with pytest.raises(SalesforceMalformedRequest) as refused:
        sf.restful(
            "composite/sobjects/Account/Throughline_Id__c",
            method="PATCH",
            json={"records": records},
        )
    assert refused.value.content[0]["errorCode"] == "EXCEEDED_ID_LIMIT"
    assert fake.records("Account") == {}


def test_an_item_failure_fails_inside_a_200(fake, sf):
    fake.item_failure(
        "TL-2", message="Invoice status cannot move back", fields=["Invoice_Status__c"]
    )
    body = {"allOrNone": False, "records": [account("TL-1"), account("TL-2"), account("TL-3")]}

    results = sf.restful("composite/sobjects/Account/Throughline_Id__c", method="PATCH", json=body)

    assert [r["success"] for r in results] == [True, False, True]
    assert results[1] == {
        "id": None,
        "success": False,
        "errors": [
            {
                "statusCode": "FIELD_CUSTOM_VALIDATION_EXCEPTION",
                "message": "Invoice status cannot move back",
                "fields": ["Invoice_Status__c"],
            }
        ],
    }
    assert sorted(r["Throughline_Id__c"] for r in fake.records("Account").values()) == [
        "TL-1",
        "TL-3",
    ]
    again = sf.restful("composite/sobjects/Account/Throughline_Id__c", method="PATCH", json=body)
    assert all(r["success"] for r in again)  # the failure struck once


def test_all_or_none_rolls_every_item_back(fake, sf):
    fake.put_record("Account", {"Throughline_Id__c": "TL-1", "Name": "Kept"})
    fake.item_failure("TL-2", status_code="DUPLICATE_VALUE", message="duplicate", fields=[])
    body = {"allOrNone": True, "records": [account("TL-1", Name="Lost"), account("TL-2")]}

    results = sf.restful("composite/sobjects/Account/Throughline_Id__c", method="PATCH", json=body)

    assert results[0]["success"] is False
    assert results[0]["errors"][0]["statusCode"] == "ALL_OR_NONE_OPERATION_ROLLED_BACK"
    assert results[1]["errors"][0]["statusCode"] == "DUPLICATE_VALUE"
    assert [r["Name"] for r in fake.records("Account").values()] == ["Kept"]


def test_unknown_hosts_and_methods_are_refused(fake, http):
    assert http.put(f"{BASE}/limits").status_code == 405
    assert fake.session().get("https://elsewhere.example/").status_code == 404


def test_the_adapter_hands_the_request_to_a_wsgi_app_as_an_environ():
    seen = {}

    def app(environ, start_response):
        seen.update(environ, body=environ["wsgi.input"].read(int(environ["CONTENT_LENGTH"])))
        start_response(
            "418 I'm a teapot", [("Content-Type", "text/plain; charset=utf-8"), ("X-A", "1")]
        )
        return [b"short ", b"and stout"]

    session = requests.Session()
    session.mount("https://", WSGIAdapter(app))
    answer = session.post(
        "https://pot.example:8443/a%20b/c?x=1&y=2", data=b"tea", headers={"X-Call": "yes"}
    )

    assert (seen["REQUEST_METHOD"], seen["PATH_INFO"], seen["QUERY_STRING"]) == (
        "POST",
        "/a b/c",
        "x=1&y=2",
    )
    assert (seen["SERVER_NAME"], seen["SERVER_PORT"], seen["wsgi.url_scheme"]) == (
        "pot.example",
        "8443",
        "https",
    )
    assert seen["HTTP_X_CALL"] == "yes" and seen["body"] == b"tea" and seen["CONTENT_LENGTH"] == "3"
    assert (answer.status_code, answer.reason, answer.text) == (
        418,
        "I'm a teapot",
        "short and stout",
    )
    assert answer.headers["x-a"] == "1" and answer.encoding == "utf-8"
    assert (
        answer.url == "https://pot.example:8443/a%20b/c?x=1&y=2" and answer.request.method == "POST"
    )


def test_delete_then_query_all_shows_the_deleted_record(fake, sf):
    record_id = fake.put_record("Account", {"Name": "Gone"})
    assert sf.Account.delete(record_id) == 204

    assert sf.query("SELECT Id FROM Account")["totalSize"] == 0
    everything = sf.query_all("SELECT Id, IsDeleted FROM Account", include_deleted=True)
    assert [(r["Id"], r["IsDeleted"]) for r in everything["records"]] == [(record_id, True)]
