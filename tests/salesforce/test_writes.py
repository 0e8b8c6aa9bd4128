"""REST writes to Salesforce through the outbox, against the fake org: each operation's call
and what the org then holds, and each row of Salesforce's error table as the outbox handles it
(retry, dead with the message for a person, refresh the session once, pause the org)."""

from datetime import timedelta

import pytest
from django.db import transaction
from django.utils import timezone

from exceptions_queue.models import ExceptionItem
from integrations.models import ApiUsage, CircuitBreaker, DeliveryAttempt, OutboxMessage
from integrations.services.outbox import enqueue_outbox_message
from tests.helpers import drain

pytestmark = pytest.mark.django_db


def _status_payload(account_id: str, opportunity_id: str, status: str = "posted") -> dict:
    return {
        "invoice_id": "41",
        "erp_invoice_id": "INV-2026-0041",
        "number": "US01-2026-0041",
        "status": status,
        "customer_id": "7",
        "crm_account_id": account_id,
        "crm_opportunity_ids": [opportunity_id],
        "legal_entity": "US01",
        "period": "2026-11",
        "total": {"amount": "571.59", "currency": "USD"},
        "amount_due": {"amount": "571.59", "currency": "USD"},
    }


def _send(system, kind: str, payload: dict, key: str) -> OutboxMessage:
    with transaction.atomic():
        message = enqueue_outbox_message(
            system=system, kind=kind, payload=payload, idempotency_key=key
        )
    drain()
    message.refresh_from_db()
    return message


def _retry_now(message: OutboxMessage) -> OutboxMessage:
    OutboxMessage.objects.filter(pk=message.pk).update(next_attempt_at=timezone.now())
    drain()
    message.refresh_from_db()
    return message


@pytest.fixture
def deal(sf_firm):
    fake = sf_firm["fake"]
    account = fake.put_record("Account", {"Name": "Initech Corporation"})
    opportunity = fake.put_record(
        "Opportunity", {"Name": "Initech ERP rollout", "AccountId": account}
    )
    return account, opportunity


def _invoices(fake) -> list[dict]:
    return list(fake.records("Invoice__c").values())


def test_an_invoice_status_is_one_invoice_record_on_the_account_and_the_opportunity(sf_firm, deal):
    fake, (account, opportunity) = sf_firm["fake"], deal
    message = _send(
        sf_firm["crm"], "crm.invoice_status.update", _status_payload(*deal), "status:41:posted"
    )
    assert message.status == OutboxMessage.Status.SENT, message.last_error
    [invoice] = _invoices(fake)
    assert invoice["Throughline_Id__c"] == "41"
    assert (invoice["Status__c"], invoice["Invoice_Number__c"]) == ("Posted", "US01-2026-0041")
    assert (invoice["Account__c"], invoice["Opportunity__c"]) == (account, opportunity)
    assert (invoice["Total__c"], invoice["CurrencyIsoCode"]) == ("571.59", "USD")
    [call] = [r for r in fake.requests if r.path.endswith("/Throughline_Id__c/41")]
    assert call.method == "PATCH" and "/services/data/v62.0/sobjects/Invoice__c/" in call.path
    assert call.headers["Sforce-Call-Options"] == "client=throughline"
    assert "Throughline_Id__c" not in call.json  # never in the body of an upsert by it
    assert message.external_id == invoice["Id"]


def test_the_next_status_updates_the_same_record_and_the_quota_is_kept(sf_firm, deal):
    fake = sf_firm["fake"]
    _send(sf_firm["crm"], "crm.invoice_status.update", _status_payload(*deal), "s:41:posted")
    paid = {
        **_status_payload(*deal, status="paid"),
        "amount_due": {"amount": "0.00", "currency": "USD"},
    }
    _send(sf_firm["crm"], "crm.invoice_status.update", paid, "s:41:paid")
    [invoice] = _invoices(fake)
    assert (invoice["Status__c"], invoice["Amount_Due__c"]) == ("Paid", "0.00")
    usage = ApiUsage.objects.get(system=sf_firm["crm"])
    assert (usage.used, usage.allowed) == (fake.api_used, 5000)


def test_a_row_lock_is_retried_and_then_sent_once(sf_firm, deal):
    fake = sf_firm["fake"]
    fake.lock_row("*/Invoice__c/*", times=2)
    message = _send(sf_firm["crm"], "crm.invoice_status.update", _status_payload(*deal), "k")
    assert message.status == OutboxMessage.Status.FAILED
    assert "UNABLE_TO_LOCK_ROW" in message.last_error
    message = _retry_now(message)
    assert message.status == OutboxMessage.Status.FAILED
    message = _retry_now(message)
    assert message.status == OutboxMessage.Status.SENT
    assert len(_invoices(fake)) == 1
    outcomes = list(
        DeliveryAttempt.objects.filter(message=message)
        .order_by("number")
        .values_list("outcome", flat=True)
    )
    assert outcomes == ["retryable", "retryable", "success"]


def test_an_unavailable_org_answering_html_is_retried_and_counts_against_the_breaker(sf_firm, deal):
    sf_firm["fake"].unavailable("*", times=1)
    message = _send(sf_firm["crm"], "crm.invoice_status.update", _status_payload(*deal), "k")
    assert message.status == OutboxMessage.Status.FAILED and "503" in message.last_error
    breaker = CircuitBreaker.objects.get(system=sf_firm["crm"])
    assert breaker.consecutive_failures == 1
    assert _retry_now(message).status == OutboxMessage.Status.SENT


def test_a_validation_rule_is_dead_at_once_with_salesforces_message_and_field(sf_firm, deal):
    sf_firm["fake"].validation(
        "*/Invoice__c/*", field="Status__c", message="Status cannot move back"
    )
    message = _send(sf_firm["crm"], "crm.invoice_status.update", _status_payload(*deal), "k")
    assert message.status == OutboxMessage.Status.DEAD
    assert message.attempts == 1
    assert "FIELD_CUSTOM_VALIDATION_EXCEPTION" in message.last_error
    assert "Status cannot move back" in message.last_error and "Status__c" in message.last_error
    item = ExceptionItem.objects.get(type_code="delivery_failed")
    text = f"{item.summary} {item.details}"
    assert "Status cannot move back" in text and "Status__c" in text


def test_a_duplicate_value_on_another_unique_field_is_dead_with_the_reason(sf_firm, deal):
    clash = [{"message": "duplicate value found: Invoice_Number__c duplicates value on record "
              "with id: a015g00000INV02AAA", "errorCode": "DUPLICATE_VALUE", "fields": []}]  # fmt: skip
    sf_firm["fake"].fail_next("*/Invoice__c/*", status=400, errors=clash, times=2)
    message = _send(sf_firm["crm"], "crm.invoice_status.update", _status_payload(*deal), "k")
    assert message.status == OutboxMessage.Status.DEAD and "DUPLICATE_VALUE" in message.last_error


def test_an_expired_session_is_refreshed_once_and_the_call_repeated(sf_firm, deal):
    fake = sf_firm["fake"]
    _send(sf_firm["crm"], "crm.invoice_status.update", _status_payload(*deal), "first")
    minted = fake.tokens_minted
    fake.expire_tokens()
    message = _send(
        sf_firm["crm"], "crm.invoice_status.update", _status_payload(*deal, status="paid"), "second"
    )
    assert message.status == OutboxMessage.Status.SENT, message.last_error
    assert fake.tokens_minted == minted + 1
    assert _invoices(fake)[0]["Status__c"] == "Paid"


def test_a_session_refused_again_after_a_refresh_is_dead_not_a_loop(sf_firm, deal):
    fake = sf_firm["fake"]
    fake.fail_next(
        "/services/data/*",
        status=401,
        errors=[{"message": "Session expired or invalid", "errorCode": "INVALID_SESSION_ID"}],
        times=5,
    )
    message = _send(sf_firm["crm"], "crm.invoice_status.update", _status_payload(*deal), "k")
    assert message.status == OutboxMessage.Status.DEAD
    assert "freshly minted session" in message.last_error
    assert fake.tokens_minted == 2  # the first sign-in and one refresh, no more
    assert sum(r.path.startswith("/services/data/") for r in fake.requests) == 2


def test_a_spent_api_limit_pauses_the_org_and_the_other_messages_wait_uncalled(sf_firm, deal):
    fake = sf_firm["fake"]
    fake.exhaust_limit()
    first = _send(sf_firm["crm"], "crm.invoice_status.update", _status_payload(*deal), "one")
    assert first.status == OutboxMessage.Status.FAILED and "API limit" in first.last_error
    breaker = CircuitBreaker.objects.get(system=sf_firm["crm"])
    assert breaker.state == CircuitBreaker.State.OPEN
    assert breaker.paused_until > timezone.now() + timedelta(minutes=14)
    calls = len(fake.requests)
    second = _send(
        sf_firm["crm"], "crm.invoice_status.update", _status_payload(*deal, status="paid"), "two"
    )
    assert second.status == OutboxMessage.Status.PENDING  # deferred without calling
    assert len(fake.requests) == calls
    assert first.next_attempt_at >= breaker.paused_until - timedelta(seconds=5)


def test_usage_past_the_reserve_pauses_the_org(sf_firm, deal):
    fake = sf_firm["fake"]
    fake.api_used = 4790  # the next call makes 4,791 of 5,000: 95.8 %
    message = _send(sf_firm["crm"], "crm.invoice_status.update", _status_payload(*deal), "k")
    assert message.status == OutboxMessage.Status.SENT
    breaker = CircuitBreaker.objects.get(system=sf_firm["crm"])
    assert breaker.state == CircuitBreaker.State.OPEN and breaker.paused_until
    assert "4,791 of its 5,000" in breaker.last_failure


def test_an_account_update_patches_the_account_by_its_id_with_the_orgs_field_names(sf_firm):
    fake = sf_firm["fake"]
    account = fake.put_record("Account", {"Name": "Initech"})
    payload = {
        "external_id": account,
        "throughline_id": "TL-000123",
        "legal_name": "Initech Corporation LLC",
        "payment_terms": "NET30",
        "website": "",
    }
    message = _send(sf_firm["crm"], "crm.account.update", payload, "acct")
    assert message.status == OutboxMessage.Status.SENT, message.last_error
    stored = fake.records("Account")[account]
    assert stored["Throughline_Id__c"] == "TL-000123"
    assert (stored["Legal_Name__c"], stored["Payment_Terms__c"]) == (
        "Initech Corporation LLC",
        "NET30",
    )
    assert stored.get("Website") is None  # cleared by its owner: null in Salesforce


def test_a_merge_marks_every_merged_account_in_one_collections_call(sf_firm):
    fake = sf_firm["fake"]
    survivor = fake.put_record("Account", {"Name": "Initech"})
    merged = [fake.put_record("Account", {"Name": f"Initech {n}"}) for n in range(3)]
    payload = {
        "external_id": survivor,
        "merged_external_ids": merged,
        "throughline_id": "TL-1",
        "merged_throughline_id": "TL-2",
    }
    calls = len(fake.requests)
    message = _send(sf_firm["crm"], "crm.account.merge", payload, "merge")
    assert message.status == OutboxMessage.Status.SENT, message.last_error
    assert [fake.records("Account")[m]["Merged_Into__c"] for m in merged] == [survivor] * 3
    rest = [r for r in fake.requests[calls:] if r.path.startswith("/services/data/")]
    assert [(r.method, r.path) for r in rest] == [
        ("PATCH", "/services/data/v62.0/composite/sobjects")
    ]


def test_a_private_key_salesforce_does_not_know_is_an_auth_failure_with_its_reason(sf_firm, deal):
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    from integrations.services.credentials import set_credentials

    other = rsa.generate_private_key(public_exponent=65537, key_size=2048).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    set_credentials(sf_firm["crm"], {"private_key": other.decode()})
    message = _send(sf_firm["crm"], "crm.invoice_status.update", _status_payload(*deal), "k")
    assert message.status == OutboxMessage.Status.DEAD and message.error_class == "auth"
    assert "invalid_grant" in message.last_error


def test_a_clash_on_our_own_key_from_a_concurrent_upsert_is_tried_once_more(sf_firm, deal):
    fake = sf_firm["fake"]
    fake.duplicate("*/Invoice__c/*")  # Salesforce names the field in the message, not in fields
    message = _send(sf_firm["crm"], "crm.invoice_status.update", _status_payload(*deal), "k")
    assert message.status == OutboxMessage.Status.SENT, message.last_error
    assert message.attempts == 1 and len(_invoices(fake)) == 1


def test_a_missing_permission_is_dead_as_a_configuration_problem(sf_firm, deal):
    refusal = {"message": "insufficient access rights on object id",
               "errorCode": "INSUFFICIENT_ACCESS_OR_READONLY"}  # fmt: skip
    sf_firm["fake"].fail_next("*/Invoice__c/*", status=403, errors=[refusal])
    message = _send(sf_firm["crm"], "crm.invoice_status.update", _status_payload(*deal), "k")
    assert (message.status, message.error_class) == (OutboxMessage.Status.DEAD, "auth")
    assert "lacks a permission" in message.last_error


def test_one_failing_record_of_a_merge_rolls_back_all_and_names_the_record(sf_firm):
    fake = sf_firm["fake"]
    survivor = fake.put_record("Account", {"Name": "Initech"})
    merged = [fake.put_record("Account", {"Name": "Initech 1"}), "001000000000000AAA"]
    payload = {"external_id": survivor, "merged_external_ids": merged,
               "throughline_id": "TL-1", "merged_throughline_id": "TL-2"}  # fmt: skip
    message = _send(sf_firm["crm"], "crm.account.merge", payload, "merge")
    assert message.status == OutboxMessage.Status.DEAD
    assert "001000000000000AAA" in message.last_error
    assert "Merged_Into__c" not in fake.records("Account")[merged[0]]  # all or none
