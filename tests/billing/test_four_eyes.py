"""Four eyes on money-moving actions (billing/services/approvals.py): a rule puts an action
under a second person's approval from an amount; the requester can never approve their own
request; approving does the action with both names on record. Figures by hand: 7.50 h +
2.00 h at 150.00 USD = 1,425.00 net, tax 8 % = 114.00, gross 1,539.00."""

from decimal import Decimal

import pytest
from django.core.management import call_command

from billing.models import ApprovalRequest, ApprovalRule, Invoice, InvoiceLine, TimeEntry
from exceptions_queue.services import resolve_exception_item
from tests.billing.test_rating import approve, item
from tests.conftest import make_user
from tests.factories import billing_invoices as f

pytestmark = pytest.mark.django_db
D = Decimal


@pytest.fixture
def people(client):
    return make_user("ana", "finance"), make_user("ben", "finance")


def _as(client, username: str):
    client.logout()
    client.login(username=username, password=f"pw-{username}")
    return client


@pytest.fixture
def draft(client, psa_secret):
    f.standard_world()
    f.tax_rate("US-NY", "0.0800")
    approve(client, psa_secret, time_entry_id="TE-1", hours="7.50")
    approve(client, psa_secret, time_entry_id="TE-2", hours="2.00")
    call_command("billing_run", "--period", "2026-11")
    invoice = Invoice.objects.get()
    assert invoice.gross_total == D("1539.00")
    return invoice


def test_posting_over_the_amount_waits_for_someone_else_and_self_approval_is_refused(
    client, people, draft
):
    ApprovalRule.objects.create(action="post_invoice", threshold=D("1000"), currency="USD")
    page = _as(client, "ana").post(f"/invoices/{draft.pk}/approve/", follow=True).content.decode()
    assert "waits for a second person&#x27;s approval" in page
    draft.refresh_from_db()
    assert draft.status == Invoice.Status.DRAFT
    request = ApprovalRequest.objects.get()
    assert (request.action, request.amount, request.currency, request.requested_by.username) == (
        "post_invoice", D("1539.000"), "USD", "ana",
    )  # fmt: skip
    again = client.post(f"/invoices/{draft.pk}/approve/", follow=True)  # asked twice: one request
    assert ApprovalRequest.objects.count() == 1 and again.status_code == 200
    refused = client.post(f"/approvals/{request.pk}/", {"decision": "approve"}, follow=True)
    assert "someone else has to approve or reject it" in refused.content.decode()
    assert ApprovalRequest.objects.get().status == "pending"
    done = _as(client, "ben").post(
        f"/approvals/{request.pk}/", {"decision": "approve"}, follow=True
    )
    assert "Approved and done" in done.content.decode()
    draft.refresh_from_db()
    request.refresh_from_db()
    assert draft.status == Invoice.Status.POSTING and draft.approved_by.username == "ana"
    assert (request.status, request.decided_by.username) == ("approved", "ben")
    assert request.history.count() == 2  # asked, then decided


def test_an_invoice_under_the_amount_posts_at_once(client, people, draft):
    ApprovalRule.objects.create(action="post_invoice", threshold=D("5000"), currency="USD")
    _as(client, "ana").post(f"/invoices/{draft.pk}/approve/")
    draft.refresh_from_db()
    assert draft.status == Invoice.Status.POSTING and not ApprovalRequest.objects.exists()


def test_a_write_down_over_the_amount_is_done_only_once_approved(client, people, draft):
    ApprovalRule.objects.create(action="write_down", threshold=D("100"), currency="USD")
    line = draft.lines.get(kind=InvoiceLine.Kind.TIME)
    adjust = f"/invoices/{draft.pk}/lines/{line.pk}/adjust/"
    small = _as(client, "ana").post(
        adjust, {"amount": "1,375.00", "reason": "goodwill"}, follow=True
    )
    assert "Line adjusted" in small.content.decode()  # 50.00 down: under the rule's amount
    client.post(
        f"/invoices/{draft.pk}/lines/{line.pk}/adjust/",
        {"amount": "1,200.00", "reason": "onboarding overran"},
    )
    adjustment = draft.lines.get(kind=InvoiceLine.Kind.ADJUSTMENT)
    assert adjustment.amount == D("-50.00")  # the bigger write-down is not done yet
    request = ApprovalRequest.objects.get()
    assert (request.action, request.amount) == ("write_down", D("225.000"))
    api = client
    _as(api, "ben")
    response = api.post(f"/api/v1/approvals/{request.pk}/approve/", {"note": "agreed with PM"},
                        content_type="application/json")  # fmt: skip
    assert response.status_code == 200, response.content
    assert response.json()["status"] == "approved" and response.json()["decided_by"] == "ben"
    adjustment.refresh_from_db()
    draft.refresh_from_db()
    assert adjustment.amount == D("-225.00") and draft.net_total == D("1200.00")


def test_a_write_off_of_held_time_of_unknown_amount_waits_and_a_rejection_needs_a_reason(
    client, psa_secret
):
    ApprovalRule.objects.create(action="write_off", threshold=D("100"), currency="USD")
    entity = f.legal_entity()
    f.rate_card(entity=entity)
    f.project(entity=entity, phases=(("DISC", "open"), ("OLD", "closed")))
    approve(client, psa_secret, time_entry_id="TE-W", hours="3.00", phase_code="OLD")
    held = item("closed_phase")
    assert held.amount_at_risk is None  # held before rating: an amount not known needs four eyes
    ana, _ben = make_user("ana", "finance", "pmo"), make_user("ben", "finance", "pmo")
    done = resolve_exception_item(
        item_id=held.pk, action="write_off", user=ana, data={"reason": "client dispute"}
    )
    assert done.resolution_outcome.startswith("Not done yet:") and done.is_open
    assert TimeEntry.objects.get(psa_time_entry_id="TE-W").status == TimeEntry.Status.ON_HOLD
    request = ApprovalRequest.objects.get()
    api = _as(client, "ben")
    no_reason = api.post(
        f"/api/v1/approvals/{request.pk}/reject/", {}, content_type="application/json"
    )
    assert no_reason.status_code == 409 and no_reason.json()["code"] == "approval_refused"
    own = _as(client, "ana").post(
        f"/api/v1/approvals/{request.pk}/approve/", {}, content_type="application/json"
    )
    assert own.status_code == 403 and own.json()["code"] == "self_approval_refused"
    approved = _as(client, "ben").post(
        f"/api/v1/approvals/{request.pk}/approve/", {}, content_type="application/json"
    )
    assert approved.json()["status"] == "approved", approved.json()
    entry = TimeEntry.objects.get(psa_time_entry_id="TE-W")
    assert (
        entry.status == TimeEntry.Status.NON_BILLABLE
        and "client dispute (ana" in entry.write_off_reason
    )
    held.refresh_from_db()
    assert "approved by ben" in held.comments.order_by("-pk").first().text


def test_the_queue_shows_who_asked_and_lets_only_others_decide(client, people, draft):
    ApprovalRule.objects.create(action="post_invoice")  # always
    _as(client, "ana").post(f"/invoices/{draft.pk}/approve/")
    mine = client.get("/approvals/").content.decode()
    assert "Yours: someone else decides it." in mine and "1,539.00 USD" in mine
    theirs = _as(client, "ben").get("/approvals/").content.decode()
    assert 'value="approve"' in theirs
    listed = client.get("/api/v1/approvals/?status=pending").json()
    assert listed["count"] == 1 and listed["results"][0]["amount"] == {
        "amount": "1539.00",
        "currency": "USD",
    }
    dashboard = client.get("/dashboards/finance/").content.decode()
    assert "waiting for a second person (1,539.00 USD)" in dashboard


def test_the_api_answers_a_held_approval_with_202_and_the_request(client, people, draft):
    ApprovalRule.objects.create(action="post_invoice", threshold=D("1000"), currency="USD")
    response = _as(client, "ana").post(f"/api/v1/invoices/{draft.pk}/approve/")
    assert response.status_code == 202, response.content
    body = response.json()
    assert body["code"] == "second_approval_required"
    assert body["extra"]["approval_request"] == ApprovalRequest.objects.get().pk
