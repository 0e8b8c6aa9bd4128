"""What a new user sees after `make run`: a slice of the demo firm loaded over HTTP through a real
worker, a few minutes of simulated traffic, then the pages in Chromium at 1440 px and at 390 px
(a phone). The screenshots are the README's (docs/screenshots/demo-*.png, phone-*.png)."""

import json
import time

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from billing.demo import traffic
from billing.demo.firm import Scale, build_firm
from billing.demo.loader import load_demo_firm
from exceptions_queue.models import ExceptionItem
from integrations.models import InboundEvent
from tests.browser.test_exception_queue import _login
from tests.conftest import make_user
from tests.e2e.conftest import (  # noqa: F401 fixtures
    beat_sweeper,
    celery_worker_process,
    real_services,
)
from tests.e2e.worker import wait_for

pytestmark = [pytest.mark.browser, pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

SLICE = Scale(clients=6, projects=8, months=4, consultants=12)
PHONE = {"width": 390, "height": 844}
PAGES = [  # screenshot name, path, a heading the page must show
    ("home", "/", "Good to see you"),
    ("finance", "/dashboards/finance/", "Finance dashboard"),
    ("pmo", "/dashboards/pmo/", "PMO dashboard"),
    ("operations", "/dashboards/operations/", "Operations dashboard"),
    ("exceptions", "/exceptions/finance/", "Finance queue"),
    ("projects", "/projects/", "Projects"),
    ("invoices", "/invoices/", "Invoices"),
    ("customers", "/customers/", "Customers"),
    ("time", "/time/", "Time"),
]


def _detail_pages() -> list[tuple[str, str, str]]:
    """A project's and an invoice's own page, as a PMO lead and finance open them."""
    from billing.models import Invoice, Project

    project = Project.objects.order_by("pk").first()
    invoice = Invoice.objects.order_by("pk").first()
    pages = [("project", f"/projects/{project.pk}/", project.name)] if project else []
    if invoice is not None:
        pages.append(("invoice", f"/invoices/{invoice.pk}/", invoice.title))
    return pages


@pytest.fixture
def demo_firm(live_server, systems, settings, tmp_path, celery_worker_process, beat_sweeper):  # noqa: F811
    settings.VAR_DIR = tmp_path
    settings.THROUGHLINE_URL = live_server.url
    secrets = {slug: secret for slug, (_system, secret) in systems.items()}
    (tmp_path / "demo-secrets.json").write_text(json.dumps(secrets))
    report = load_demo_firm(
        firm=build_firm(timezone.localdate(), SLICE),
        base_url=live_server.url,
        log=lambda line: None,
        secrets=secrets,
    )
    assert set(report.sent) == {202}
    traffic.RETRY_SECONDS = 0
    for _ in range(12):
        traffic.run_tick()
        _settled()
    return report


def _settled() -> None:
    def quiet() -> bool:
        return not InboundEvent.objects.filter(status__in=("received", "processing")).exists()

    wait_for(quiet, timeout=120, message="the worker to apply every delivery")
    time.sleep(0.2)


def _page_width(page) -> int:
    return page.evaluate("() => document.documentElement.scrollWidth")


def test_the_demo_firm_fills_every_page_and_each_reads_on_a_phone(
    demo_firm, live_server, new_page, screenshots_dir
):
    make_user("demo.viewer", "finance", "pmo", "operations")
    assert ExceptionItem.objects.filter(status__in=ExceptionItem.OPEN_STATUSES).exists()

    pages = PAGES + _detail_pages()
    page = new_page()
    _login(page, live_server.url, "demo.viewer")
    for name, path, heading in pages:
        page.goto(live_server.url + path)
        expect(page.get_by_role("heading", name=heading, exact=False).first).to_be_visible()
        page.screenshot(path=str(screenshots_dir / f"demo-{name}.png"), full_page=True)
    page.goto(live_server.url + "/dashboards/finance/")
    expect(page.locator("[data-panel='billing:unbilled-time'] svg.chart:not(.trend)")).to_be_visible()

    phone = new_page(viewport=PHONE)
    _login(phone, live_server.url, "demo.viewer")
    too_wide = {}
    for name, path, heading in pages:
        phone.goto(live_server.url + path)
        expect(phone.get_by_role("heading", name=heading, exact=False).first).to_be_visible()
        width = _page_width(phone)
        if width > PHONE["width"]:
            too_wide[path] = width
        if name in {"finance", "exceptions", "invoices", "projects", "project", "invoice"}:
            phone.screenshot(path=str(screenshots_dir / f"phone-{name}.png"), full_page=True)
    assert not too_wide, f"pages wider than a {PHONE['width']} px phone: {too_wide}"
