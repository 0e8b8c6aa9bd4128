"""Faults of a real Tryton, against the live server (the worker-level outage is in
tests/e2e/test_tryton_outage.py): an answer lost after Tryton committed creates nothing twice;
a refusal of Tryton goes to the operations queue with Tryton's own words and is delivered once
after the cause is fixed and the message replayed; two ERPs for two legal entities each get
only their own entity's parties and invoices."""

from datetime import date
from decimal import Decimal

import pytest
from django.core.management import call_command

from billing.models import Invoice, Project
from exceptions_queue.models import ExceptionItem
from integrations.connectors.tryton.fixture import today
from integrations.models import DeliveryAttempt, OutboxMessage
from tests.factories import billing_invoices as invoice_factories
from tests.helpers import drain
from tests.tryton.faults import (
    acquired_tryton,
    lost_answers,
    open_fiscal_year,
    post_refusal,
    year_without_books,
)
from tests.tryton.firm import (
    NOV,
    add_tryton,
    bill_and_approve,
    book_time,
    firm,
    poll,
    rpc,
    wait_until,
    win_deal,
)

pytestmark = pytest.mark.django_db(transaction=True)
D = Decimal
__all__ = ["acquired_tryton", "firm", "lost_answers", "rpc"]  # fixtures, imported for pytest
PARTY_CREATE, INVOICE_CREATE = "model.party.party.create", "model.account.invoice.create"


def _active(project: Project) -> Project | None:
    """The project once the PSA has made it (its Tryton id known)."""
    return Project.objects.filter(
        pk=project.pk, status=Project.Status.ACTIVE, psa_project_id__isnull=False
    ).first()


def _posted(invoice: Invoice) -> Invoice | None:
    return Invoice.objects.filter(pk=invoice.pk, status=Invoice.Status.POSTED).first()


def _references(tryton, instance: str) -> list[str]:
    """Our invoice references in one Tryton (this test's instance only)."""
    rows = tryton.model("account.invoice").search_read(
        [("reference", "like", f"{instance}TL-INV-%")], ["reference"]
    )
    return sorted(row["reference"] for row in rows)


def _party_codes(tryton, instance: str) -> list[str]:
    rows = tryton.model("party.party").search_read([("code", "like", f"{instance}%")], ["code"])
    return sorted(row["code"] for row in rows)


@pytest.mark.parametrize("lost", [PARTY_CREATE, INVOICE_CREATE])
def test_an_answer_lost_after_tryton_committed_leaves_one_party_and_one_invoice(
    client, firm, rpc, api_client_for, lost_answers, settings, lost
):
    """Tryton commits the create, the answer never arrives: the outbox retries (a retryable
    attempt first), the check by our reference finds what the lost call made."""
    settings.OUTBOX_BACKOFF_BASE_SECONDS = 0.2
    dropper = lost_answers(lost)
    won = win_deal(client, firm)
    project = wait_until(lambda: _active(won), seconds=30)
    assert project, "the project was never made in the PSA"
    book_time(rpc, project, "DISC", NOV)
    poll(firm["psa"], "time")
    [invoice] = bill_and_approve(api_client_for("finance"))  # nothing dead on the way
    invoice = wait_until(lambda: _posted(invoice), seconds=30)
    assert invoice, OutboxMessage.objects.exclude(status="sent").values("kind", "last_error")

    assert len(dropper.lost) == 1  # the fault did strike, once
    code = firm["instance"] + project.customer.throughline_id
    parties = rpc.model("party.party").search([("code", "=", code)])
    reference = f"{firm['instance']}TL-INV-{invoice.pk}"
    booked = rpc.model("account.invoice").search_read(
        [("reference", "=", reference)], ["id", "state", "number"]
    )
    assert len(parties) == 1 and len(booked) == 1, (parties, booked)
    made_by_lost_call = dropper.lost[0][0]
    assert made_by_lost_call == (parties[0] if lost == PARTY_CREATE else booked[0]["id"])
    assert (invoice.erp_invoice_id, booked[0]["state"]) == (str(booked[0]["id"]), "posted")
    assert booked[0]["number"] == invoice.number

    [failed] = DeliveryAttempt.objects.exclude(outcome=DeliveryAttempt.Outcome.SUCCESS)
    assert failed.outcome == DeliveryAttempt.Outcome.RETRYABLE and lost in failed.error
    history = failed.message.delivery_attempts.order_by("number", "started_at")
    assert list(history.values_list("outcome", flat=True)) == ["retryable", "success"]
    assert failed.message.status == OutboxMessage.Status.SENT


def _approve_the_draft(finance) -> Invoice:
    [draft] = Invoice.objects.filter(status=Invoice.Status.DRAFT)
    response = finance.post(f"/api/v1/invoices/{draft.pk}/approve/")
    assert response.status_code == 200, response.content
    drain()
    return draft


def test_a_tryton_refusal_goes_to_operations_with_trytons_words_and_replays_once(
    client, firm, rpc, api_client_for
):
    """An invoice dated in a year Tryton has no books for: Tryton refuses to post it (a
    UserError). The message is dead at its first attempt, operations see Tryton's own words;
    the accountant opens the year, operations replay, the invoice is posted once."""
    year = year_without_books(rpc, after=today().year)
    project = win_deal(client, firm, end_date=f"{year}-12-31")
    book_time(
        rpc, project, "DISC", [(date(year, 1, 10), D("2.00")), (date(year, 1, 11), D("1.50"))]
    )
    poll(firm["psa"], "time")
    call_command("billing_run", "--period", f"{year}-01")
    invoice = _approve_the_draft(api_client_for("finance"))

    message = OutboxMessage.objects.get(kind="erp.invoice.create")
    assert (message.status, message.attempts) == (OutboxMessage.Status.DEAD, 1)
    outcomes = list(message.delivery_attempts.values_list("outcome", flat=True))
    assert outcomes == [DeliveryAttempt.Outcome.PERMANENT]  # no retries
    reference = f"{firm['instance']}TL-INV-{invoice.pk}"
    [draft] = rpc.model("account.invoice").search_read([("reference", "=", reference)], ["id"])
    words = post_refusal(rpc, draft["id"])  # what Tryton says, asked directly
    assert words and str(year) in words, words

    item = ExceptionItem.objects.get(
        type_code="delivery_failed", subject_key=f"outbox:{message.pk}"
    )
    assert item.queue == "operations"
    assert words in item.summary and words in item.details["last_error"]
    operations = api_client_for("operations")
    listed = operations.get("/api/v1/exceptions/", {"queue": "operations"}).json()["results"]
    assert [(row["id"], row["type"]) for row in listed] == [(item.pk, "delivery_failed")]

    open_fiscal_year(rpc, firm["server"].fixture_data["company"], year)
    response = operations.post(
        f"/api/v1/exceptions/{item.pk}/resolve/", {"action": "replay"}, format="json"
    )
    assert response.status_code == 200, response.content
    drain()
    message.refresh_from_db()
    invoice = Invoice.objects.get(pk=invoice.pk)
    booked = rpc.model("account.invoice").search_read(
        [("reference", "=", reference)], ["id", "state", "number"]
    )
    assert [(row["id"], row["state"]) for row in booked] == [(draft["id"], "posted")]
    assert (message.status, invoice.status) == (OutboxMessage.Status.SENT, Invoice.Status.POSTED)
    assert (invoice.erp_invoice_id, invoice.number) == (str(draft["id"]), booked[0]["number"])
    outcomes = list(
        message.delivery_attempts.order_by("started_at").values_list("outcome", flat=True)
    )
    assert outcomes == ["permanent", "success"]
    item.refresh_from_db()
    assert item.status == ExceptionItem.Status.RESOLVED


def test_two_erps_for_two_legal_entities_each_receive_only_their_own_entitys_invoices(
    client, firm, rpc, acquired_tryton, api_client_for
):
    us02 = invoice_factories.legal_entity("US02", "USD", ("US-NY",))
    invoice_factories.rate_card("US02-STD", entity=us02)
    add_tryton(acquired_tryton, slug="acq-erp", kind="erp", instance=firm["instance"],
               entities=["US02"])  # fmt: skip
    ours = win_deal(client, firm)
    theirs = win_deal(
        client, firm, legal_entity="US02", account_id="001ACQ", account_name="Acquired Client Co"
    )
    for project in (ours, theirs):
        book_time(rpc, project, "DISC", NOV)
    poll(firm["psa"], "time")
    invoices = bill_and_approve(api_client_for("finance"))
    by_entity = {invoice.legal_entity.code: invoice for invoice in invoices}
    assert sorted(by_entity) == ["US01", "US02"]
    assert {invoice.status for invoice in invoices} == {Invoice.Status.POSTED}

    instance = firm["instance"]
    acquired = acquired_tryton.client()
    assert _references(rpc, instance) == [f"{instance}TL-INV-{by_entity['US01'].pk}"]
    assert _references(acquired, instance) == [f"{instance}TL-INV-{by_entity['US02'].pk}"]
    ours_code = instance + ours.customer.throughline_id
    theirs_code = instance + theirs.customer.throughline_id
    assert _party_codes(acquired, instance) == [theirs_code]
    # The first Tryton is also the PSA of both entities: it holds the acquired customer's party
    # for its project only, never upserted there as an ERP customer (no payment term).
    assert _party_codes(rpc, instance) == sorted([ours_code, theirs_code])
    [psa_only] = rpc.model("party.party").search_read(
        [("code", "=", theirs_code)], ["customer_payment_term"]
    )
    assert psa_only["customer_payment_term"] is None
    [erp_party] = acquired.model("party.party").search_read(
        [("code", "=", theirs_code)], ["customer_payment_term.name"]
    )
    assert erp_party["customer_payment_term."]["name"] == "Net 30"
    erp_messages = OutboxMessage.objects.filter(kind__startswith="erp.").select_related("system")
    routes = {(m.payload.get("legal_entity"), m.system.slug) for m in erp_messages}
    assert routes == {("US01", "tryton-erp"), ("US02", "acq-erp")}, routes


def test_time_records_are_answered_without_tryton_even_while_it_is_down(firm, settings):
    """Tryton costs its own timesheets: an ERP time record is answered without a call, so an
    outage neither fails it nor counts against the breaker."""
    from integrations.connectors.tryton.connector import TrytonConnector

    connector = TrytonConnector(firm["erp"], credentials={"password": "wrong"})
    firm["erp"].base_url = "http://127.0.0.1:9"  # nothing listens there
    result = connector.call("erp.time_entry.record", {}, idempotency_key="k")
    assert result.data == {"recorded": False, "reason": "Tryton costs its own timesheets"}
