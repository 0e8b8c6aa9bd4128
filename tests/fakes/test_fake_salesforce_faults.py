"""Faults injected into the fake Salesforce strike exactly the requests they name, as often as
asked, in the shapes Salesforce answers them (JSON error arrays; an HTML page for a 503)."""

import pytest
from simple_salesforce.exceptions import (
    SalesforceGeneralError,
    SalesforceMalformedRequest,
    SalesforceRefusedRequest,
)

BASE = "https://sf.test/services/data/v62.0"
UPSERT = "/services/data/v62.0/sobjects/Account/Throughline_Id__c/*"


def upsert(sf, value="TL-1"):
    return sf.Account.upsert(f"Throughline_Id__c/{value}", {"Name": "Acme"})


def test_lock_row_strikes_twice_then_the_write_goes_through(fake, sf):
    fake.lock_row(UPSERT)

    for _ in range(2):
        with pytest.raises(SalesforceMalformedRequest) as locked:
            upsert(sf)
        assert locked.value.content == [
            {
                "message": "unable to obtain exclusive access to this record",
                "errorCode": "UNABLE_TO_LOCK_ROW",
                "fields": [],
            }
        ]
    assert upsert(sf) == 201
    assert [r.status for r in fake.requests] == [400, 400, 201]
    assert fake.api_used == 3  # refused calls count too
    assert len(fake.records("Account")) == 1


def test_validation_names_the_field(fake, sf):
    fake.validation(field="Invoice_Status__c", message="Invoice status cannot move back")

    with pytest.raises(SalesforceMalformedRequest) as refused:
        upsert(sf)
    assert refused.value.content == [
        {
            "message": "Invoice status cannot move back",
            "errorCode": "FIELD_CUSTOM_VALIDATION_EXCEPTION",
            "fields": ["Invoice_Status__c"],
        }
    ]
    assert fake.records("Account") == {}


def test_duplicate_value(fake, sf):
    fake.duplicate()
    with pytest.raises(SalesforceMalformedRequest) as refused:
        upsert(sf)
    assert refused.value.content[0]["errorCode"] == "DUPLICATE_VALUE"


def test_exhaust_limit_refuses_with_403(fake, sf):
    fake.exhaust_limit(times=2)

    for _ in range(2):
        with pytest.raises(SalesforceRefusedRequest) as refused:
            sf.restful("limits")
        assert refused.value.content == [
            {"message": "TotalRequests Limit exceeded.", "errorCode": "REQUEST_LIMIT_EXCEEDED"}
        ]
    assert sf.restful("limits")


def test_unavailable_answers_an_html_page(fake, sf, http):
    fake.unavailable(times=2)

    with pytest.raises(SalesforceGeneralError) as down:
        upsert(sf)
    assert down.value.status == 503
    assert isinstance(down.value.content, str) and "<html>" in down.value.content
    answer = http.get(f"{BASE}/limits")
    assert answer.status_code == 503
    assert answer.headers["Content-Type"].startswith("text/html")
    with pytest.raises(ValueError, match="Expecting value"):
        answer.json()
    assert "Sforce-Limit-Info" not in answer.headers
    assert http.get(f"{BASE}/limits").status_code == 200


def test_fail_next_matches_the_glob_and_the_method(fake, sf, http):
    errors = [{"message": "boom", "errorCode": "UNKNOWN_EXCEPTION", "fields": []}]
    fake.fail_next("*/sobjects/Contact/*", status=500, errors=errors, method="PATCH")

    assert upsert(sf) == 201  # another object: untouched
    assert http.get(f"{BASE}/sobjects/Contact/0035g00000CTAL1AAP").status_code == 404  # a GET
    failed = http.patch(f"{BASE}/sobjects/Contact/Throughline_Id__c/C-1", json={"LastName": "Lee"})
    assert failed.status_code == 500 and failed.json() == errors
    assert failed.headers["Sforce-Limit-Info"].startswith("api-usage=")
    again = http.patch(f"{BASE}/sobjects/Contact/Throughline_Id__c/C-1", json={"LastName": "Lee"})
    assert again.status_code == 201


def test_fail_next_with_a_raw_body_and_content_type(fake, http):
    fake.fail_next(
        "/services/data/v62.0/limits", status=502, body="Bad Gateway", content_type="text/plain"
    )

    answer = http.get(f"{BASE}/limits")
    assert (answer.status_code, answer.text) == (502, "Bad Gateway")
    assert answer.headers["Content-Type"] == "text/plain"


def test_a_broad_glob_leaves_the_token_endpoint_alone(fake):
    fake.unavailable()
    fake.fail_next("*oauth2*", status=500, body="{}")
    session = fake.session()

    token = session.post("https://login.salesforce.com/services/oauth2/token", data={})
    assert token.status_code == 500  # only the glob naming it reached it
    assert session.get("https://sf.test/services/data/").status_code == 503


def test_an_item_failure_does_not_touch_single_upserts(fake, sf):
    fake.item_failure("TL-1")
    assert upsert(sf) == 201
    assert "TL-1" in fake.item_failures


def test_calls_filters_the_recorded_requests(fake, sf):
    upsert(sf, "TL-1")
    sf.restful("limits")

    assert [r.path for r in fake.calls("*/limits")] == ["/services/data/v62.0/limits"]
    assert len(fake.calls(UPSERT, method="PATCH")) == 1
    assert fake.calls(UPSERT, method="GET") == []
