"""A whole firm on Tryton (PSA and ERP) against the live server: the deal becomes a party and a
project, approved time a draft, approval a posted invoice whose lines, totals and tax are read
back from Tryton and compared with ours; paying in Tryton reaches Throughline by the poll and
the CRM by the outbox; a credit line becomes a credit note."""

from decimal import Decimal

import pytest
from django.utils import timezone

from billing.models import Invoice, TimeEntry
from exceptions_queue.models import ExceptionItem
from integrations.connectors.tryton.fixture import pay_invoice
from integrations.models import OutboxMessage, SandboxRecord, SyncRun
from integrations.tasks import poll_peers_task
from tests.conftest import make_user
from tests.helpers import drain, envelope, post_event
from tests.tryton.firm import (
    NOV,
    bill_and_approve,
    book_time,
    firm,
    poll,
    rpc,
    tryton_invoice,
    win_deal,
)

pytestmark = pytest.mark.django_db(transaction=True)
D = Decimal
__all__ = ["firm", "rpc"]  # fixtures, imported for pytest


def test_a_deal_becomes_a_party_and_a_project_with_its_phases_in_tryton(client, firm, rpc):
    project = win_deal(client, firm)
    customer = project.customer
    parties = rpc.model("party.party").search_read(
        [("code", "=", firm["instance"] + customer.throughline_id)],
        ["id", "name", "customer_payment_term.name"],
    )
    assert len(parties) == 1
    assert parties[0]["name"] == customer.legal_name or customer.name
    assert parties[0]["customer_payment_term."]["name"] == "Net 30"
    work = rpc.model("project.work").read(
        [int(project.psa_project_id)], ["name", "type", "party", "comment", "children"]
    )[0]
    assert (work["type"], work["party"]) == ("project", parties[0]["id"])
    assert work["comment"] == firm["instance"] + f"TL-OPP-{project.contract.crm_opportunity_id}"
    phases = rpc.model("project.work").read(work["children"], ["comment", "timesheet_works"])
    assert sorted(p["comment"] for p in phases) == ["TL-PHASE-BUILD", "TL-PHASE-DISC"]
    assert all(p["timesheet_works"] for p in phases)  # bookable on timesheets
    assert project.status == project.Status.ACTIVE


def test_tryton_time_is_billed_posted_in_tryton_and_its_totals_agree_with_ours(
    client, firm, rpc, api_client_for
):
    project = win_deal(client, firm)
    book_time(rpc, project, "DISC", NOV)
    run = poll(firm["psa"], "time")
    assert run.status == SyncRun.Status.FINISHED and run.changed_count == 2, run.errors
    entries = TimeEntry.objects.filter(psa_project_id=project.psa_project_id)
    assert sorted(e.hours for e in entries) == [D("1.50"), D("2.00")]
    assert {e.status for e in entries} == {TimeEntry.Status.RATED}
    [invoice] = bill_and_approve(api_client_for("finance"))
    assert invoice.status == Invoice.Status.POSTED, invoice.status
    booked = tryton_invoice(rpc, invoice, firm["instance"])
    assert booked["state"] == "posted" and booked["number"] == invoice.number
    assert (booked["untaxed_amount"], booked["tax_amount"], booked["total_amount"]) == (
        invoice.net_total,
        invoice.tax_total,
        invoice.gross_total,
    )
    assert (
        invoice.erp_total == invoice.gross_total == D("571.59")
    )  # 3.5 h × 150 = 525.00, + 8.875 % = 46.59
    lines = rpc.model("account.invoice.line").read(
        booked["lines"], ["quantity", "unit_price", "amount", "taxes"]
    )
    ours = sorted((line.hours, line.rate, line.amount) for line in invoice.lines.all())
    theirs = sorted((D(str(r["quantity"])), r["unit_price"], r["amount"]) for r in lines)
    assert [(h, r.normalize(), a) for h, r, a in ours] == [
        (D(str(h)).quantize(D("0.01")), r.normalize(), a) for h, r, a in theirs
    ]
    assert all(r["taxes"] for r in lines)


def test_paying_in_tryton_reaches_throughline_by_the_poll_and_the_crm_by_the_outbox(
    client, firm, rpc, api_client_for
):
    project = win_deal(client, firm)
    book_time(rpc, project, "DISC", NOV[:1])
    poll(firm["psa"], "time")
    [invoice] = bill_and_approve(api_client_for("finance"))
    pay_invoice(
        rpc,
        int(invoice.erp_invoice_id),
        payment_method=firm["server"].fixture_data["payment_method"],
    )
    assert poll_peers_task() == {  # the beat task: every stream of every Tryton system
        "tryton-erp:poll.invoices": "finished",
        "tryton-erp:poll.reference": "finished",
        "tryton-psa:poll.time": "finished",
    }
    drain()
    invoice.refresh_from_db()
    assert (invoice.status, invoice.amount_due) == (Invoice.Status.PAID, D("0"))
    told = [
        r.data["status"]
        for r in SandboxRecord.objects.filter(
            system=firm["crm"], operation="crm.invoice_status.update"
        ).order_by("created_at")
        if r.data["invoice_id"] == str(invoice.pk)
    ]
    assert told[-1] == "paid" and "posted" in told
    again = poll(firm["erp"], "invoices")  # nothing new: the same change is stored once
    assert again.changed_count == 0
    client.force_login(make_user("ops", "operations"))
    page = client.get("/operations/").content.decode()
    assert "Invoice states (poll)" in page and "tryton-erp" in page


def test_a_retraction_after_posting_becomes_a_credit_note_in_tryton(
    client, firm, rpc, api_client_for
):
    project = win_deal(client, firm)
    [line_id] = book_time(rpc, project, "DISC", NOV[1:])  # 1.50 h
    poll(firm["psa"], "time")
    finance = api_client_for("finance")
    [posted] = bill_and_approve(finance)
    entry = TimeEntry.objects.get(psa_project_id=project.psa_project_id)
    retraction = envelope(
        "psa.time_entry.retracted",
        {"time_entry_id": entry.psa_time_entry_id, "retracted_at": timezone.now().isoformat()},
    )
    secret = firm["psa"].active_secret_values()[0]
    assert post_event(client, "tryton-psa", secret, retraction).status_code == 202
    this_month = f"{timezone.localdate():%Y-%m}"  # a credit goes on this month's draft
    [credit] = bill_and_approve(finance, period=this_month)
    assert credit.status == Invoice.Status.POSTED
    assert [line.kind for line in credit.lines.all()] == ["credit"]
    note = tryton_invoice(rpc, credit, firm["instance"])
    assert note["total_amount"] == credit.gross_total == -posted.gross_total
    assert note["state"] == "posted"
    assert not OutboxMessage.objects.filter(status=OutboxMessage.Status.DEAD).exists()
    assert line_id


def test_a_total_tryton_rounds_otherwise_is_flagged_to_finance_when_it_posts(
    client, firm, rpc, api_client_for
):
    """2.00 h x 150.00 = 300.00; 8.875 % of it is 26.625: Throughline rounds half up (26.63),
    Tryton half to even (26.62). The read-back at posting shows the cent at once."""
    project = win_deal(client, firm)
    book_time(rpc, project, "DISC", NOV[:1])
    poll(firm["psa"], "time")
    [invoice] = bill_and_approve(api_client_for("finance"))
    assert (invoice.gross_total, invoice.erp_total) == (D("326.63"), D("326.62"))
    item = ExceptionItem.objects.get(type_code="rate_mismatch", subject_key=f"invoice:{invoice.pk}")
    assert (item.queue, item.amount_at_risk) == ("finance", D("0.01"))
