"""Period close, approvals and rates in Chromium at 1440 px and 390 px: what finance sees of
late time, of a request waiting for a second person, and of a rate change previewed
(screenshots docs/screenshots/controls-*.png, looked at)."""

from datetime import date
from decimal import Decimal

import pytest
from playwright.sync_api import expect

from billing.models import AccountingPeriod, ApprovalRequest, TimeEntry
from tests.browser.test_exception_queue import _login
from tests.conftest import make_user
from tests.factories import billing_invoices as f

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _world() -> None:
    project = f.standard_world()
    entity = project.contract.legal_entity
    for n, (day, hours) in enumerate(((date(2026, 10, 14), "6.00"), (date(2026, 10, 21), "2.50"))):
        TimeEntry.objects.create(
            psa_time_entry_id=f"TE-L{n}", psa_project_id=project.psa_project_id, phase_code="DISC",
            person_email="ana@acme.example", role="consultant", work_date=day, hours=Decimal(hours),
            is_billable=True, category="delivery", approved_at="2026-11-20T09:00:00+00:00",
            status=TimeEntry.Status.RATED, project=project, rate=Decimal("150.00"),
            billed_hours=Decimal(hours), amount=Decimal(hours) * 150, currency="USD", trace_id="t" * 32,
        )  # fmt: skip
    AccountingPeriod.objects.create(legal_entity=entity, period=date(2026, 10, 1), status="closed")
    ApprovalRequest.objects.create(
        action="post_invoice", subject_key="invoice:1", subject_label="Draft #1 (Globex)",
        amount=Decimal("12840.00"), currency="USD", requested_by=make_user("ana", "finance"),
    )  # fmt: skip


def test_finance_controls_read_at_a_glance(live_server, new_page, screenshots_dir):
    _world()
    make_user("ben", "finance")
    for width, name in ((1440, "wide"), (390, "phone")):
        page = new_page({"width": width, "height": 900})
        _login(page, live_server.url, "ben")
        page.goto(f"{live_server.url}/periods/")
        expect(page.get_by_text("October 2026").first).to_be_visible()
        expect(page.get_by_role("button", name="Approve the move")).to_be_visible()
        page.screenshot(path=str(screenshots_dir / f"controls-periods-{name}.png"), full_page=True)
        page.goto(f"{live_server.url}/approvals/")
        expect(page.get_by_text("12,840.00 USD")).to_be_visible()
        expect(page.get_by_role("button", name="Approve")).to_be_visible()
        page.screenshot(
            path=str(screenshots_dir / f"controls-approvals-{name}.png"), full_page=True
        )
        page.goto(f"{live_server.url}/rates/")
        page.get_by_label("New hourly rate").fill("200.00")
        page.get_by_label("From").fill("2026-10-01")
        page.get_by_role("button", name="Preview this change").click()
        expect(page.get_by_text("A preview: nothing was written")).to_be_visible()
        expect(page.get_by_text("900.00 USD → 1,200.00 USD")).to_be_visible()
        page.screenshot(
            path=str(screenshots_dir / f"controls-rate-preview-{name}.png"), full_page=True
        )
