"""Finance approves a draft in the browser: it is posted to the sandbox ERP once, and the
ERP's status change (its webhook) reaches the sandbox CRM."""

import re

import pytest
from django.core.management import call_command
from django.test import Client
from playwright.sync_api import expect

from billing.models import Invoice
from integrations.models import SandboxRecord
from tests.billing.test_rating import approve
from tests.browser.test_exception_queue import _login
from tests.conftest import make_user
from tests.factories import billing_invoices as f
from tests.helpers import drain, envelope, post_event

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _draft(systems) -> Invoice:
    f.standard_world()
    f.tax_rate("US-NY", "0.0800")
    client, secret = Client(), systems["psa"][1]
    approve(client, secret, time_entry_id="TE-501", hours="7.50", work_date="2026-11-02")
    approve(client, secret, time_entry_id="TE-502", hours="6.00", work_date="2026-11-03")
    approve(client, secret, time_entry_id="TE-503", hours="1.00", role="partner")  # held
    call_command("billing_run", "--period", "2026-11")
    return Invoice.objects.get()


def test_a_draft_approved_in_the_browser_is_posted_once_and_its_status_reaches_the_crm(
    live_server, systems, new_page, screenshots_dir
):
    invoice = _draft(systems)
    make_user("fiona", "finance")
    page = new_page()
    _login(page, live_server.url, "fiona")
    page.get_by_role("link", name="Invoices", exact=True).click()
    expect(page.get_by_role("heading", name="Invoices")).to_be_visible()
    expect(page.locator("#invoice-table tbody tr")).to_have_count(1)
    page.get_by_role("link", name=f"Draft #{invoice.pk}").click()
    expect(page.get_by_test_id("invoice-status")).to_have_text("Draft")
    expect(page.locator("body")).to_contain_text("2,025.00 USD")  # 13.5 h x 150.00
    expect(page.locator("body")).to_contain_text("No rate for the time")  # TE-503, held, why
    page.screenshot(path=str(screenshots_dir / "invoice-draft-review.png"), full_page=True)

    page.get_by_role("button", name="Approve and post to the ERP…").click()
    # The confirmation says what goes to the ERP before anything does.
    summary = page.get_by_test_id("approval-summary")
    expect(summary).to_contain_text("1 invoice will be approved and posted")
    expect(summary).to_contain_text("2,187.00 USD")  # gross, 8 % tax on 2,025.00
    page.screenshot(path=str(screenshots_dir / "invoice-approve-confirm.png"), full_page=True)
    assert invoice.__class__.objects.get(pk=invoice.pk).status == Invoice.Status.DRAFT
    page.get_by_role("button", name="Approve 1 and post").click()
    expect(page.get_by_test_id("invoice-status")).to_have_text("Posting to the ERP")
    expect(page.get_by_role("button", name=re.compile("Approve"))).to_have_count(0)

    drain()  # the worker's part, in this process
    invoice.refresh_from_db()
    assert invoice.status == Invoice.Status.POSTED and invoice.erp_invoice_id
    created = SandboxRecord.objects.filter(system__slug="erp", operation="erp.invoice.create")
    assert created.count() == 1 and created.get().data["gross_total"] == "2187.00"  # +8 %
    page.reload()
    expect(page.get_by_test_id("invoice-status")).to_have_text("Posted")

    body = envelope(
        "erp.invoice.status_changed",
        {
            "invoice_id": invoice.erp_invoice_id,
            "number": "INV-2026-0042",
            "status": "sent",
            "total": "2187.00",
            "amount_due": "2187.00",
            "currency": "USD",
            "changed_at": "2026-12-01T08:00:00+00:00",
        },
    )
    assert post_event(Client(), "erp", systems["erp"][1], body).status_code == 202
    drain()
    crm = SandboxRecord.objects.filter(system__slug="crm", operation="crm.invoice_status.update")
    assert "sent" in {record.data["status"] for record in crm}
    assert created.count() == 1  # posted once, whatever happened after
    page.reload()
    expect(page.get_by_test_id("invoice-status")).to_have_text("Sent")
    expect(page.locator("h1")).to_contain_text("INV-2026-0042")
    page.screenshot(path=str(screenshots_dir / "invoice-sent.png"), full_page=True)
