"""The reconciliation page in Chromium at 1440 and 390 px (screenshots
docs/screenshots/reconciliation-*.png): an invoice missing in the ERP reads as a mismatch in
words linking to its item, "Run now" queues a run whose status the page shows, and the page fits
the phone's width (only the table scrolls sideways)."""

from io import StringIO

import pytest
from django.core.management import call_command
from django.test import Client
from playwright.sync_api import expect

from billing.models import Invoice
from billing.services.invoice_posting import approve_invoice
from billing.services.reconciliation import execute_reconciliation
from exceptions_queue.models import ControlRun, ExceptionItem
from integrations.models import SandboxRecord
from tests.billing.test_rating import approve
from tests.browser.test_dashboards import watch_csp
from tests.browser.test_exception_queue import _login
from tests.conftest import make_user
from tests.factories import billing_invoices as f
from tests.helpers import drain

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
SIZES = {"1440": {"width": 1440, "height": 900}, "390": {"width": 390, "height": 844}}


def _fits(page) -> None:
    """The page is no wider than the window (the table scrolls inside its own box)."""
    overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 1, f"the page is {overflow} px wider than the window"


def _month_with_a_missing_invoice(systems) -> ExceptionItem:
    f.standard_world()
    f.tax_rate("US-NY", "0.0800")
    approve(Client(), systems["psa"][1], time_entry_id="TE-1", hours="2.00")
    call_command("billing_run", "--period", "2026-11", stdout=StringIO())
    approve_invoice(invoice_id=Invoice.objects.get().pk, approved_by=make_user("fiona", "finance"))
    drain()
    SandboxRecord.objects.filter(system__slug="erp", operation="erp.invoice.create").delete()
    call_command("reconcile", "--period", "2026-11", stdout=StringIO())
    return ExceptionItem.objects.get(type_code="reconciliation_mismatch")


def test_the_reconciliation_page_reads_on_a_desk_and_a_phone(
    live_server, systems, new_page, screenshots_dir
):
    item = _month_with_a_missing_invoice(systems)
    for size, viewport in SIZES.items():
        page = new_page(viewport)
        violations = watch_csp(page)
        _login(page, live_server.url, "fiona")
        page.goto(f"{live_server.url}/dashboards/finance/")
        expect(page.get_by_test_id("reconciliation-open")).to_have_text("1")
        page.get_by_test_id("reconciliation-open").click()
        expect(page.get_by_role("heading", name="Reconciliation")).to_be_visible()
        expect(page.get_by_test_id("reconciliation-row")).to_contain_text("2.00 h approved")
        mismatch = page.get_by_test_id("reconciliation-mismatches")
        expect(mismatch).to_contain_text("Invoice missing in the ERP")
        expect(mismatch).to_contain_text("erp has no invoice")
        _fits(page)
        page.screenshot(path=str(screenshots_dir / f"reconciliation-{size}.png"), full_page=True)
        assert violations == []
    mismatch.get_by_role("link", name="Invoice missing in the ERP").click()
    expect(page).to_have_url(f"{live_server.url}/exceptions/items/{item.pk}/")
    page.go_back()
    page.get_by_test_id("run-now").click()
    expect(page.get_by_test_id("run-status")).to_contain_text("Queued")
    run = ControlRun.objects.order_by("-pk").first()
    execute_reconciliation(run_id=run.pk)  # the worker's part, in this process
    expect(page.get_by_test_id("run-status")).to_contain_text("Finished", timeout=10_000)
