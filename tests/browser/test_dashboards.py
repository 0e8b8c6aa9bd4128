"""The finance and PMO dashboards in Chromium, on a believable month of data: screenshots for
docs/screenshots/dashboard-*.png (looked at, not just taken)."""

import re
from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from billing.models import Invoice, InvoiceLine, Person, TimeEntry
from tests.browser.test_exception_queue import _login
from tests.conftest import make_user
from tests.dashboards import world as w
from tests.factories import billing_invoices as f
from tests.factories.exceptions_queue import ExceptionItemFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
RATED, INVOICED = TimeEntry.Status.RATED, TimeEntry.Status.INVOICED

PEOPLE = [  # email, role, weekly capacity, cost rate
    ("ana@acme.example", "consultant", "40", "80.00"),
    ("ben@acme.example", "consultant", "40", "85.00"),
    ("chloe@acme.example", "senior-consultant", "40", "110.00"),
    ("dev@acme.example", "senior-consultant", "32", "105.00"),
    ("eva@acme.example", "partner", "30", "190.00"),
    ("finn@acme.example", "consultant", "40", "75.00"),
]


def _people() -> None:
    for email, role, capacity, cost in PEOPLE:
        f.person(email, role_code=role, cost_rate=cost)
        Person.objects.filter(email=email).update(weekly_capacity_hours=capacity)


def _hourly_projects() -> list:
    """(project, hourly rate, ages in days of its rated entries) for the six T&M projects."""
    return [
        (f.project("PRJ-201", client=f.customer("Globex")), "150.00", (3, 12, 40, 75, 120)),
        (f.project("PRJ-202", client=f.customer("Initech")), "175.00", (1, 8, 22)),
        (f.project("PRJ-203", client=f.customer("Umbrella Corp")), "160.00", (5, 35, 65, 95)),
        (w.gb_project("PRJ-204", "Stark Industries"), "120.00", (2, 16, 50)),
        (f.project("PRJ-205", client=f.customer("Wayne Enterprises")), "150.00", (10,)),
        (f.project("PRJ-206", client=f.customer("Hooli")), "140.00", (4, 28, 33, 88, 140)),
    ]


def _hourly_entries(projects: list) -> None:
    """Rated (unbilled) entries at their ages, and four weeks of invoiced entries per project."""
    monday = w.today() - timedelta(days=w.today().weekday())
    for index, (project, rate, ages) in enumerate(projects):
        email, _role, _capacity, cost = PEOPLE[index % len(PEOPLE)]
        for age in ages:
            hours = f"{6 + (age % 5)}.50"
            w.entry(
                project,
                status=RATED,
                work_date=w.days_ago(age),
                hours=hours,
                amount=f"{float(hours) * float(rate):.2f}",
                person=email,
                cost=f"{float(hours) * float(cost):.2f}",
                cost_currency=project.contract.currency,
            )
        for week in range(4):
            for person_index, (email, _role, capacity, cost) in enumerate(PEOPLE):
                if (person_index + index) % 3:
                    continue
                hours = f"{int(capacity) // (2 + (person_index + week) % 3)}.00"
                w.entry(
                    project,
                    status=INVOICED,
                    work_date=monday - timedelta(days=7 * week + 3),
                    hours=hours,
                    amount=f"{float(hours) * float(rate):.2f}",
                    person=email,
                    cost=f"{float(hours) * float(cost) * (1.6 if index == 4 else 1):.2f}",
                    cost_currency=project.contract.currency,
                )


def _fixed_fee_project() -> None:
    ff = w.fixed_fee_project("PRJ-207")
    w.entry(
        ff,
        status=TimeEntry.Status.NON_BILLABLE,
        work_date=w.days_ago(9),
        hours="40.00",
        cost="4200.00",
        person="chloe@acme.example",
    )
    w.line(w.invoice(ff), ff, kind=InvoiceLine.Kind.MILESTONE, amount="12000.00")


def _posted_invoices(project, now) -> None:
    """Five month-end invoices of ``project`` with their approval and posting lags."""
    for index, (lag_hours, approve_days) in enumerate(((5, 2), (26, 3), (49, 4), (8, 6), (30, 9))):
        last = now - timedelta(days=3 + index * 6)
        done = w.entry(
            project,
            status=INVOICED,
            work_date=w.days_ago(40),
            hours="1.00",
            amount="150.00",
            approved_at=last - timedelta(hours=lag_hours),
        )
        month_end = w.days_ago(30 + index * 6)
        posted = w.invoice(
            project,
            invoice_date=month_end,
            posted_at=last,
            approved_at=w.at(month_end + timedelta(days=approve_days), 10),
        )
        w.line(posted, project, entries=[done])


def _open_exceptions(now) -> None:
    for type_code, queue, amount, currency, hours, days in (
        ("rate_missing", "finance", "4200.00", "USD", None, 2),
        ("rate_missing", "finance", "1800.00", "GBP", None, 12),
        ("not_to_exceed", "finance", "9600.00", "USD", None, 5),
        ("contract_invalid", "finance", None, "", None, 1),
        ("duplicate_customer", "finance", None, "", None, 3),
        ("closed_phase", "pmo", "2625.00", "USD", None, 8),
        ("unknown_project", "pmo", None, "", "22.50", 33),
        ("closed_phase", "pmo", "1200.00", "USD", None, 0),
    ):
        ExceptionItemFactory(
            type_code=type_code,
            queue=queue,
            severity="medium",
            amount_at_risk=amount,
            currency=currency,
            hours=hours,
            first_seen_at=now - timedelta(days=days, hours=3),
            due_at=now + timedelta(hours=4) if days < 4 else now - timedelta(hours=2),
        )


def _world() -> None:
    f.standard_world()
    _people()
    w.fx("GBP", "USD", "1.27", w.days_ago(2))
    projects = _hourly_projects()
    _hourly_entries(projects)
    _fixed_fee_project()
    now = timezone.now()
    _posted_invoices(projects[0][0], now)
    _open_exceptions(now)
    assert Invoice.objects.exists()


def watch_csp(page) -> list[str]:
    """The page's Content Security Policy violations, as Chromium reports them on the console
    (the list fills while the page is used; empty: the policy let every resource through)."""
    violations: list[str] = []
    page.on(
        "console",
        lambda message: (
            violations.append(message.text) if "Content Security Policy" in message.text else None
        ),
    )
    return violations


def test_finance_and_pmo_dashboards_read_at_a_glance(live_server, new_page, screenshots_dir):
    _world()
    make_user("fiona", "finance")
    make_user("paula", "pmo")

    page = new_page()
    finance_violations = watch_csp(page)
    _login(page, live_server.url, "fiona")
    page.get_by_role("link", name="Dashboards").click()  # the first dashboard finance may see
    expect(page.get_by_role("heading", name="Finance dashboard")).to_be_visible()
    expect(page.locator("[data-panel='billing:unbilled-time'] svg.chart:not(.trend)")).to_be_visible()
    expect(page.locator("[data-panel='billing:unbilled-time']")).to_contain_text("Globex")
    page.screenshot(path=str(screenshots_dir / "dashboard-finance.png"), full_page=True)

    page = new_page()
    pmo_violations = watch_csp(page)
    _login(page, live_server.url, "paula")
    page.get_by_role("link", name="Dashboards").click()  # PMO lands on its own dashboard
    expect(page.get_by_role("heading", name="PMO dashboard")).to_be_visible()
    expect(page.locator("[data-panel='billing:utilization'] svg.chart:not(.trend)")).to_be_visible()
    expect(page.locator("[data-panel='billing:unbilled-time']")).to_have_count(0)
    page.select_option("[data-panel='billing:utilization'] select[name=weeks]", "4")  # app.js
    expect(page).to_have_url(re.compile(r"weeks=4"))
    page.screenshot(path=str(screenshots_dir / "dashboard-pmo.png"), full_page=True)
    assert finance_violations == [] and pmo_violations == []  # every page renders under the CSP
