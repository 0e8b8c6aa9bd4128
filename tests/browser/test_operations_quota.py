"""The operations dashboard with a Salesforce CRM whose API quota is nearly spent, in Chromium at
1440 px and 390 px: the quota as a meter with its figures, the pause it caused in words
(screenshots docs/screenshots/operations-quota-*.png)."""

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from integrations.models import ApiUsage
from integrations.services import breakers
from integrations.services.systems import add_system
from tests.browser.test_exception_queue import _login
from tests.conftest import make_user

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_operations_sees_the_salesforce_quota_and_the_pause(live_server, new_page, screenshots_dir):
    crm = add_system(slug="salesforce", kind="crm", connector="salesforce")[0]
    add_system(slug="tryton-erp", kind="erp", connector="sandbox")
    ApiUsage.objects.create(system=crm, used=4791, allowed=5000, observed_at=timezone.now())
    breakers.pause(
        system_id=crm.pk,
        seconds=900,
        reason="4,791 of its 5,000 daily API requests used (96%; the pause is at 95%): paused "
        "to keep a reserve",
    )
    make_user("olga", "operations")
    for width, name in ((1440, "wide"), (390, "phone")):
        page = new_page({"width": width, "height": 900})
        _login(page, live_server.url, "olga")
        page.goto(f"{live_server.url}/operations/")
        row = page.get_by_role("row", name="salesforce")
        expect(row).to_contain_text("4,791 of 5,000 (95.8%)")
        expect(row).to_contain_text("paused until")
        expect(row.locator("meter")).to_have_attribute("value", "4791")
        page.screenshot(path=str(screenshots_dir / f"operations-quota-{name}.png"), full_page=True)
