"""The dashboards' weekly trends, filters and drill-down links in Chromium, at a desktop width
and a phone's (390 px): the trends draw, a filter narrows the page, a column opens its rows,
and nothing scrolls sideways on a phone."""

import os
import re
from pathlib import Path

import pytest
from playwright.sync_api import expect

from tests.browser.test_dashboards import _world
from tests.browser.test_exception_queue import _login
from tests.conftest import make_user

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
LOOK = Path(os.environ.get("THROUGHLINE_LOOK_DIR", "/tmp/throughline-look"))


def _no_sideways_scroll(page) -> None:
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")


@pytest.mark.parametrize("width", [1440, 390])
def test_trends_filters_and_drill_down_at_desktop_and_phone_width(live_server, new_page, width):
    _world()
    make_user("fiona", "finance")
    LOOK.mkdir(parents=True, exist_ok=True)
    page = new_page({"width": width, "height": 900})
    _login(page, live_server.url, "fiona")
    page.goto(f"{live_server.url}/dashboards/finance/")
    for key in ("billing:unbilled-time", "billing:invoice-latency"):
        expect(page.locator(f"[data-panel='{key}'] svg.chart.trend")).to_be_visible()
    _no_sideways_scroll(page)
    page.screenshot(path=str(LOOK / f"finance-{width}.png"), full_page=True)

    page.select_option("[data-testid=dashboard-filters] select[name=project]", "PRJ-201")
    page.get_by_role("button", name="Filter").click()
    expect(page.locator("[data-panel='billing:unbilled-time']")).to_contain_text("Globex")
    expect(page.locator("[data-panel='billing:unbilled-time']")).not_to_contain_text("Initech")
    _no_sideways_scroll(page)
    page.locator("[data-drill='unbilled-total']").click()
    expect(page).to_have_url(re.compile(r"/time/\?.*project=PRJ-201"))

    page.goto(f"{live_server.url}/dashboards/pmo/")
    for key in ("billing:utilization", "billing:project-margin"):
        expect(page.locator(f"[data-panel='{key}'] svg.chart.trend")).to_be_visible()
    _no_sideways_scroll(page)
    page.screenshot(path=str(LOOK / f"pmo-{width}.png"), full_page=True)
