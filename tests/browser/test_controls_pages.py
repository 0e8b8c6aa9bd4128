"""The finance controls' pages in Chromium at 1440 and 390 px: the revenue-leakage ledger and an
invoice line's lineage (screenshots docs/screenshots/leakage-*.png and lineage-*.png, looked
at, not just taken). Each page must fit the phone's width: nothing but a table scrolls sideways."""

import pytest
from playwright.sync_api import expect

from billing.models import InvoiceLine
from tests.billing.test_leakage import firm  # noqa: F401 the ledger's firm, one row per reason
from tests.billing.test_lineage import posted  # noqa: F401 a line delivered, corrected, posted
from tests.browser.test_dashboards import watch_csp
from tests.browser.test_exception_queue import _login
from tests.conftest import make_user

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
SIZES = {"1440": {"width": 1440, "height": 900}, "390": {"width": 390, "height": 844}}


def _fits(page) -> None:
    """The page is no wider than the window (tables scroll inside their own box)."""
    overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 1, f"the page is {overflow} px wider than the window"


def test_the_leakage_ledger_reads_on_a_desk_and_a_phone(
    firm,  # noqa: F811
    live_server,
    new_page,
    screenshots_dir,
):
    for size, viewport in SIZES.items():
        page = new_page(viewport)
        violations = watch_csp(page)
        _login(page, live_server.url, "fin")
        page.goto(f"{live_server.url}/dashboards/finance/")
        figure = page.locator("[data-drill='leakage-this-month']")
        expect(figure).to_be_visible()
        page.goto(f"{live_server.url}/leakage/")
        expect(page.get_by_role("heading", name="Revenue leakage")).to_be_visible()
        expect(page.locator("[data-testid='leakage-rows'] tbody tr")).not_to_have_count(0)
        expect(page.locator("[data-testid='by-reason']")).to_contain_text("Written down")
        _fits(page)
        page.screenshot(path=str(screenshots_dir / f"leakage-{size}.png"), full_page=True)
        assert violations == []


def test_a_lines_lineage_reads_on_a_desk_and_a_phone(
    posted,  # noqa: F811
    live_server,
    new_page,
    screenshots_dir,
):
    make_user("fiona", "finance")
    invoice, line = posted["invoice"], posted["line"]
    assert line.kind == InvoiceLine.Kind.TIME
    for size, viewport in SIZES.items():
        page = new_page(viewport)
        violations = watch_csp(page)
        _login(page, live_server.url, "fiona")
        page.goto(f"{live_server.url}/invoices/{invoice.pk}/")
        page.locator("[data-testid='line-lineage']").first.click()
        expect(page.get_by_role("heading", name="Where this line comes from")).to_be_visible()
        expect(page.locator("[data-entry='TE-1']")).to_contain_text(
            f"Delivery #{posted['first'].pk}"
        )
        expect(page.locator("[data-entry='TE-1']")).to_contain_text(
            f"Delivery #{posted['second'].pk}"
        )
        expect(page.locator("[data-testid='posting']")).to_contain_text(invoice.erp_invoice_id)
        _fits(page)
        page.screenshot(path=str(screenshots_dir / f"lineage-{size}.png"), full_page=True)
        assert violations == []
