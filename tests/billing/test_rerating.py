"""Re-rating a project after its rates changed (billing/services/amendments.py): time not
invoiced is rated again, time on a draft leaves it and comes back at the new rate, time on a
posted invoice is credited and re-billed this month; every entry ends on exactly one line.
Figures by hand, consultant 150.00 → 200.00 USD: TE-OCT 2.00 h (posted) 300.00 → 400.00,
TE-NOV 3.00 h (draft) 450.00 → 600.00, TE-DEC 1.00 h (not invoiced) 150.00 → 200.00; the
change is +300.00."""

from datetime import date
from decimal import Decimal

import pytest
from django.core.management import call_command

from billing.models import (
    ApprovalRequest,
    ApprovalRule,
    Invoice,
    InvoiceLine,
    InvoiceLineEntry,
    TimeEntry,
)
from billing.services.invoice_posting import approve_invoice
from tests.billing.test_rating import approve
from tests.conftest import make_user
from tests.factories import billing_invoices as f
from tests.helpers import drain

pytestmark = pytest.mark.django_db
D = Decimal


@pytest.fixture
def project(client, psa_secret, systems):
    project = f.standard_world()
    approve(client, psa_secret, time_entry_id="TE-OCT", hours="2.00", work_date="2026-10-20")
    call_command("billing_run", "--period", "2026-10")
    approve_invoice(invoice_id=Invoice.objects.get().pk, approved_by=make_user("fin0", "finance"))
    drain()
    approve(client, psa_secret, time_entry_id="TE-NOV", hours="3.00", work_date="2026-11-10")
    call_command("billing_run", "--period", "2026-11")
    approve(client, psa_secret, time_entry_id="TE-DEC", hours="1.00", work_date="2026-12-01")
    new_rates = ((date(2026, 1, 1), None, {"consultant": "200.00"}),)
    card = f.rate_card(
        "US-2027",
        entity=project.contract.legal_entity,
        client_account_id="001B",
        versions=new_rates,
    )
    project.contract.rate_card = card  # the amendment: the deal now names the new card
    project.contract.save()
    return project


def _links(entry_id: str) -> list[InvoiceLineEntry]:
    return list(
        InvoiceLineEntry.objects.filter(time_entry__psa_time_entry_id=entry_id, is_active=True)
    )


def test_the_preview_lists_each_entry_and_the_change_and_keeps_nothing(client, project):
    make_user("fin", "finance")
    client.login(username="fin", password="pw-fin")
    page = client.post(f"/projects/{project.pk}/rerate/preview/").content.decode()
    assert "A preview: nothing was written" in page
    assert "300.00 USD → 400.00 USD" in page and "450.00 USD → 600.00 USD" in page
    assert "150.00 USD → 200.00 USD" in page and "300.00 USD</td></tr></tfoot>" in page
    amounts = dict(TimeEntry.objects.values_list("psa_time_entry_id", "amount"))
    assert amounts == {"TE-OCT": D("300.00"), "TE-NOV": D("450.00"), "TE-DEC": D("150.00")}


def test_re_rating_credits_and_re_bills_and_every_entry_ends_on_exactly_one_line(client, project):
    make_user("fin", "finance")
    client.login(username="fin", password="pw-fin")
    done = client.post(f"/projects/{project.pk}/rerate/", follow=True).content.decode()
    assert "3 entries re-rated: 1 credited and re-billed this month, 1 taken off drafts" in done
    call_command("billing_run", "--period", "2026-11")
    call_command("billing_run", "--period", "2026-12")
    for entry_id, amount in (("TE-OCT", "400.00"), ("TE-NOV", "600.00"), ("TE-DEC", "200.00")):
        [link] = _links(entry_id)  # exactly one active line each
        assert link.amount == D(amount), entry_id
    december = Invoice.objects.get(period="2026-12-01", status=Invoice.Status.DRAFT)
    credit = december.lines.get(kind=InvoiceLine.Kind.CREDIT)
    assert credit.amount == D("-300.00")  # the posted October amount, credited
    assert sorted(line.amount for line in december.lines.all()) == [D("-300.00"), D("600.00")]
    november = Invoice.objects.get(period="2026-11-01", status=Invoice.Status.DRAFT)
    assert november.net_total == D("600.00")
    assert december.net_total == D("300.00")  # -300 + 400 + 200


def test_re_rating_over_a_rule_waits_for_a_second_person(client, project):
    ApprovalRule.objects.create(action="rate_change", threshold=D("100"), currency="USD")
    make_user("fin", "finance")
    make_user("fin2", "finance")
    client.login(username="fin", password="pw-fin")
    waiting = client.post(f"/projects/{project.pk}/rerate/", follow=True).content.decode()
    assert "waits for a second person" in waiting
    assert TimeEntry.objects.get(psa_time_entry_id="TE-DEC").amount == D("150.00")
    request = ApprovalRequest.objects.get()
    assert (request.action, request.amount) == ("rate_change", D("300.000"))
    client.logout()
    client.login(username="fin2", password="pw-fin2")
    client.post(f"/approvals/{request.pk}/", {"decision": "approve"})
    assert TimeEntry.objects.get(psa_time_entry_id="TE-DEC").amount == D("200.00")


def test_the_api_previews_and_re_rates(project, api_client_for):
    api = api_client_for("finance")
    preview = api.get(f"/api/v1/projects/{project.pk}/rerate/").json()
    assert len(preview["entries"]) == 3 and preview["totals"] == [
        {"amount": "300.00", "currency": "USD"}
    ]
    done = api.post(f"/api/v1/projects/{project.pk}/rerate/").json()
    assert done == {"entries": 3, "credited": 1, "moved_off_drafts": 1}
    assert api.get(f"/api/v1/projects/{project.pk}/rerate/").json()["entries"] == []  # nothing left
