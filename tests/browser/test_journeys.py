"""A day's work per role in Chromium, at 1440 px and at a 390 px phone, each page checked with
axe-core (no serious or critical violation) and for sideways scroll, screenshots in
docs/screenshots/journey-*.png:

- finance reviews a draft, writes a line down, approves and posts it, exports the list;
- the PMO fixes held time (moves it to an open phase) and reads the project's burn;
- operations replays a failed posting and sees the invoice posted on its trace.
"""

import csv
import io
import re

import pytest
from axe_playwright_python.sync_playwright import Axe
from django.core.management import call_command
from django.test import Client
from playwright.sync_api import expect

from billing.models import Invoice, InvoiceLine, TimeEntry
from exceptions_queue.models import ExceptionItem
from integrations.services.systems import set_sandbox_faults
from tests.billing.test_rating import approve
from tests.browser.test_exception_queue import _login
from tests.conftest import make_user
from tests.factories import billing_invoices as f
from tests.helpers import drain

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

VIEWPORTS = {"wide": {"width": 1440, "height": 900}, "phone": {"width": 390, "height": 844}}
AXE = Axe()


def _check(page, shots, name: str, size: str) -> None:
    """The page as a person meets it: no serious accessibility fault, no sideways scroll."""
    page.wait_for_load_state("load")
    results = AXE.run(page).response["violations"]
    serious = [
        f"{v['id']}: {v['nodes'][0]['target']}"
        for v in results
        if v["impact"] in ("serious", "critical")
    ]
    assert serious == [], f"{page.url}: {serious}"
    width = page.evaluate("() => document.documentElement.scrollWidth")
    assert width <= VIEWPORTS[size]["width"], f"{page.url} is {width} px wide"
    page.screenshot(path=str(shots / f"journey-{name}-{size}.png"), full_page=True)


def _world(systems) -> Invoice:
    f.standard_world()
    f.tax_rate("US-NY", "0.0800")
    client, secret = Client(), systems["psa"][1]
    approve(client, secret, time_entry_id="TE-701", hours="7.50", work_date="2026-11-02")
    approve(client, secret, time_entry_id="TE-702", hours="6.00", work_date="2026-11-03")
    call_command("billing_run", "--period", "2026-11")
    return Invoice.objects.get()


@pytest.mark.parametrize("size", sorted(VIEWPORTS))
def test_finance_reviews_adjusts_posts_and_exports(
    size, live_server, systems, new_page, screenshots_dir
):
    invoice = _world(systems)
    make_user("fiona", "finance")
    page = new_page(viewport=VIEWPORTS[size])
    _login(page, live_server.url, "fiona")
    page.goto(f"{live_server.url}/invoices/")
    page.get_by_role("link", name=f"Draft #{invoice.pk}").click()
    expect(page.get_by_test_id("invoice-status")).to_have_text("Draft")
    _check(page, screenshots_dir, "finance-review", size)

    page.get_by_text("Write down or up").first.click()
    page.get_by_label("Bill instead (USD)").first.fill("1,900.00")
    page.get_by_label("Why").first.fill("goodwill: onboarding ran long")
    page.get_by_role("button", name="Adjust the line").first.click()
    expect(page.locator(".messages").first).to_contain_text("Line adjusted")
    expect(page.locator("body")).to_contain_text("2,052.00 USD")  # 1,900.00 + 8 % tax

    page.get_by_role("button", name="Approve and post to the ERP…").click()
    expect(page.get_by_test_id("approval-summary")).to_contain_text("2,052.00 USD")
    _check(page, screenshots_dir, "finance-confirm", size)
    page.get_by_role("button", name="Approve 1 and post").click()
    expect(page.get_by_test_id("invoice-status")).to_have_text("Posting to the ERP")
    drain()
    page.reload()
    expect(page.get_by_test_id("invoice-status")).to_have_text("Posted")
    adjustment = InvoiceLine.objects.get(invoice=invoice, kind=InvoiceLine.Kind.ADJUSTMENT)
    assert adjustment.amount < 0

    page.goto(f"{live_server.url}/invoices/?status=posted")
    with page.expect_download() as download:
        page.get_by_role("link", name="CSV").first.click()
    rows = list(csv.reader(io.StringIO(download.value.path().read_text(encoding="utf-8"))))
    assert len(rows) == 2 and any("2052.00" in cell for cell in rows[1])


@pytest.mark.parametrize("size", sorted(VIEWPORTS))
def test_pmo_fixes_held_time_and_reads_the_burn(
    size, live_server, systems, new_page, screenshots_dir
):
    f.standard_world()
    project = f.project(
        "PRJ-200", phases=(("DISC", "open"), ("OLD", "closed")), not_to_exceed="2000.00"
    )
    approve(
        Client(), systems["psa"][1], time_entry_id="TE-801", project_id="PRJ-200", phase_code="OLD"
    )
    item = ExceptionItem.objects.get(type_code="closed_phase")
    make_user("piet", "pmo")
    page = new_page(viewport=VIEWPORTS[size])
    _login(page, live_server.url, "piet")
    page.goto(f"{live_server.url}/exceptions/pmo/")
    page.get_by_role("link", name=re.compile(f"#{item.pk} ")).first.click()
    _check(page, screenshots_dir, "pmo-item", size)
    page.get_by_label("Open phase").select_option("DISC")
    page.get_by_role("button", name="Move to an open phase").click()
    expect(page.locator(".messages")).to_contain_text("Moved to DISC")
    entry = TimeEntry.objects.get(psa_time_entry_id="TE-801")
    assert (entry.status, entry.phase_code) == (TimeEntry.Status.RATED, "DISC")

    page.goto(f"{live_server.url}/projects/{project.pk}/")
    expect(page.get_by_test_id("burn")).to_contain_text("of the cap (2,000.00 USD)")
    _check(page, screenshots_dir, "pmo-project", size)


@pytest.mark.parametrize("size", sorted(VIEWPORTS))
def test_operations_replays_a_failed_posting_and_sees_it_posted(
    size, live_server, systems, new_page, screenshots_dir
):
    invoice = _world(systems)
    erp = systems["erp"][0]
    set_sandbox_faults(system=erp, permanent_operations=["erp.invoice.create"])
    finance = Client()
    make_user("fiona", "finance")
    finance.login(username="fiona", password="pw-fiona")
    finance.post("/invoices/approve/", {"invoice": [invoice.pk]})
    drain()
    item = ExceptionItem.objects.get(type_code="delivery_failed")
    set_sandbox_faults(system=erp, clear=True)  # the cause fixed in the ERP

    make_user("olga", "operations")
    page = new_page(viewport=VIEWPORTS[size])
    _login(page, live_server.url, "olga")
    page.goto(f"{live_server.url}/exceptions/operations/")
    expect(page.locator("body")).to_contain_text(f"Invoice #{invoice.pk}")  # named, with money
    page.get_by_role("link", name=re.compile(f"#{item.pk} Delivery failed")).click()
    _check(page, screenshots_dir, "operations-item", size)
    page.get_by_role("button", name="Replay the message").click()
    expect(page.locator(".messages")).to_contain_text("Replay #1 queued")
    drain()
    page.reload()
    expect(page.locator("#item-status")).to_have_text("Resolved")
    invoice.refresh_from_db()
    assert invoice.status == Invoice.Status.POSTED
    page.goto(f"{live_server.url}/traces/{item.trace_id}/")  # the posting's story
    expect(page.locator("body")).to_contain_text(f"invoice {invoice.pk} posted")
    _check(page, screenshots_dir, "operations-trace", size)
