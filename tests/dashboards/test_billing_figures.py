"""Billing's dashboard figures on small hand-computed data sets (docs/dashboards.md)."""

from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from billing.models import Invoice, InvoiceLine, Project, TimeEntry
from billing.panels.delivery import get_project_margin, get_utilization
from billing.panels.invoicing import get_billing_cycle_time, get_invoice_latency
from billing.panels.risk import get_revenue_at_risk
from billing.panels.unbilled import get_unbilled_time
from exceptions_queue.models import ExceptionItem
from tests.billing.test_rating import approve
from tests.dashboards import world as w
from tests.factories import billing_invoices as f
from tests.factories.exceptions_queue import ExceptionItemFactory

pytestmark = pytest.mark.django_db
RATED, INVOICED = TimeEntry.Status.RATED, TimeEntry.Status.INVOICED


def _aging(row) -> dict:
    return {a["bucket"]: (a["hours"], a["reporting"]["amount"]) for a in row["aging"]}


def test_unbilled_time_is_rated_time_aged_by_work_date_and_totalled_in_usd_with_fx():
    us = f.standard_world()
    gb = w.gb_project()
    w.entry(us, status=RATED, work_date=w.days_ago(5), hours="2.00", amount="300.00")
    w.entry(us, status=RATED, work_date=w.days_ago(45), hours="1.50", amount="225.00")
    w.entry(us, status=RATED, work_date=w.days_ago(100), hours="4.00", amount="600.00")
    w.entry(us, status=RATED, work_date=w.days_ago(30), hours="1.00", amount="150.00")  # 0-30
    w.entry(us, status=INVOICED, work_date=w.days_ago(10), hours="9.00", amount="1350.00")
    w.entry(us, status=TimeEntry.Status.ON_HOLD, work_date=w.days_ago(10), hours="9.00")
    w.entry(gb, status=RATED, work_date=w.days_ago(70), hours="3.00", amount="360.00")
    w.fx("GBP", "USD", "1.10", w.days_ago(30))
    w.fx("GBP", "USD", "1.25", w.days_ago(3))  # the latest on or before today wins
    w.fx("GBP", "USD", "2.00", w.days_ago(-1))  # tomorrow's: not yet

    data = get_unbilled_time()

    total = data["total"]
    assert total["hours"] == "11.50" and total["entries"] == 5
    assert total["amounts"] == [
        {"amount": "360.00", "currency": "GBP"},
        {"amount": "1275.00", "currency": "USD"},
    ]
    assert total["reporting"] == {"amount": "1725.00", "currency": "USD", "unconverted": []}
    assert _aging(total) == {
        "0-30": ("3.00", "450.00"),
        "31-60": ("1.50", "225.00"),
        "61-90": ("3.00", "450.00"),  # 360.00 GBP x 1.25
        "90+": ("4.00", "600.00"),
    }
    clients = data["by_client"]
    assert [c["name"] for c in clients["top"]] == ["Globex", "Initech"]
    assert clients["count"] == 2 and clients["others"]["count"] == 0
    projects = {p["psa_project_id"]: p for p in data["by_project"]["top"]}
    assert projects["PRJ-GB1"]["amounts"] == [{"amount": "360.00", "currency": "GBP"}]
    assert projects["PRJ-GB1"]["client"] == "Initech"


def test_an_amount_with_no_fx_rate_is_listed_apart_never_guessed():
    eu = f.project(
        "PRJ-EU1",
        entity=f.legal_entity("DE01", currency="EUR"),
        currency="EUR",
        client=f.customer("Umbrella"),
    )
    w.entry(eu, status=RATED, work_date=w.days_ago(1), hours="2.00", amount="200.00")

    data = get_unbilled_time()

    assert data["total"]["reporting"] == {
        "amount": "0.00",
        "currency": "USD",
        "unconverted": [{"amount": "200.00", "currency": "EUR"}],
    }


def test_unbilled_time_through_the_psa_event(systems, psa_secret):
    f.standard_world()
    approve(Client(), psa_secret, time_entry_id="TE-1", hours="7.50", work_date="2026-11-02")

    data = get_unbilled_time()

    assert data["total"]["hours"] == "7.50"
    assert data["total"]["amounts"] == [{"amount": "1125.00", "currency": "USD"}]  # 7.5 x 150


def test_revenue_at_risk_sums_open_items_by_queue_and_type_and_counts_unpriced_hours():
    w.fx("GBP", "USD", "1.25", w.days_ago(1))
    finance = {"queue": "finance", "severity": "medium"}
    ExceptionItemFactory(
        type_code="rate_missing", amount_at_risk="500.00", currency="USD", **finance
    )
    ExceptionItemFactory(
        type_code="rate_missing", amount_at_risk="250.00", currency="USD", **finance
    )
    ExceptionItemFactory(
        type_code="not_to_exceed", amount_at_risk="100.00", currency="GBP", **finance
    )
    ExceptionItemFactory(
        type_code="rate_missing", amount_at_risk="10.00", currency="EUR", **finance
    )
    ExceptionItemFactory(
        type_code="rate_missing",
        amount_at_risk="999.00",
        currency="USD",
        status="resolved",
        **finance,
    )
    ExceptionItemFactory(type_code="closed_phase", queue="pmo", hours="6.00", status="assigned")

    data = get_revenue_at_risk()

    assert data["items"] == 5 and data["unpriced_items"] == 1 and data["unpriced_hours"] == "6.00"
    assert data["reporting"] == {
        "amount": "875.00",  # 750.00 USD + 100.00 GBP x 1.25
        "currency": "USD",
        "unconverted": [{"amount": "10.00", "currency": "EUR"}],
    }
    queues = {q["queue"]: q for q in data["by_queue"]}
    assert queues["pmo"]["amounts"] == [] and queues["pmo"]["unpriced_hours"] == "6.00"
    types = {t["type"]: t for t in data["by_type"]}
    assert types["rate_missing"]["items"] == 3
    assert types["rate_missing"]["amounts"] == [
        {"amount": "10.00", "currency": "EUR"},
        {"amount": "750.00", "currency": "USD"},
    ]
    assert data["by_type"][0]["type"] == "rate_missing"  # largest amount first


def test_invoice_latency_is_last_entry_approval_to_posting_median_and_p90():
    project = f.standard_world()
    now = timezone.now()
    for hours in (2, 4, 10):
        approved = now - timedelta(days=5, hours=hours)
        first = w.entry(
            project,
            status=INVOICED,
            work_date=w.days_ago(20),
            amount="1.00",
            approved_at=approved - timedelta(days=3),
        )
        last = w.entry(
            project, status=INVOICED, work_date=w.days_ago(20), amount="1.00", approved_at=approved
        )
        posted = w.invoice(project, posted_at=now - timedelta(days=5))
        w.line(posted, project, entries=[first, last])
    milestone_only = w.invoice(project, posted_at=now - timedelta(days=1))
    w.line(milestone_only, project, kind=InvoiceLine.Kind.MILESTONE, amount="100.00")
    old = w.invoice(project, posted_at=now - timedelta(days=100))
    w.line(
        old,
        project,
        entries=[
            w.entry(
                project,
                status=INVOICED,
                work_date=w.days_ago(120),
                amount="1.00",
                approved_at=now - timedelta(days=101),
            )
        ],
    )
    void = w.invoice(project, status=Invoice.Status.VOID, posted_at=now - timedelta(days=2))
    w.line(
        void,
        project,
        entries=[
            w.entry(
                project,
                status=RATED,
                work_date=w.days_ago(9),
                amount="1.00",
                approved_at=now - timedelta(days=30),
            )
        ],
    )

    data = get_invoice_latency()

    assert (data["count"], data["median"], data["p90"]) == (3, "4.0", "10.0")
    assert data["unit"] == "hours" and data["without_time_entries"] == 1


def test_billing_cycle_time_is_period_end_to_approval_and_posting_in_days():
    project = f.standard_world()
    month_end = w.days_ago(40)
    end = w.at(month_end + timedelta(days=1), 0)
    for approve_days, post_days in ((1, 2), (3, 4), (2, None)):
        w.invoice(
            project,
            invoice_date=month_end,
            approved_at=end + timedelta(days=approve_days),
            posted_at=end + timedelta(days=post_days) if post_days else None,
            status=Invoice.Status.POSTED if post_days else Invoice.Status.APPROVED,
        )
    w.invoice(project, invoice_date=w.days_ago(200), approved_at=w.at(w.days_ago(150)))

    data = get_billing_cycle_time()

    assert data["to_approval"] == {"count": 3, "unit": "days", "median": "2.0", "p90": "3.0"}
    assert data["to_posting"] == {"count": 2, "unit": "days", "median": "3.0", "p90": "4.0"}


def _window():
    monday = w.today() - timedelta(days=w.today().weekday())
    return monday - timedelta(weeks=4), monday


def _utilization_world():
    """Ana (40 h/week) and Bob (20 h/week) over the four-week window, with entries that must not
    count (non-billable, retracted, this week, before the window) and one of nobody on file."""
    project = f.standard_world()
    f.person("bob@acme.example", role_code="partner").__class__.objects.filter(
        email="bob@acme.example"
    ).update(weekly_capacity_hours="20")
    start, monday = _window()
    last_week = monday - timedelta(days=3)
    w.entry(project, status=RATED, work_date=start, hours="30.00", amount="1.00")
    w.entry(project, status=INVOICED, work_date=last_week, hours="50.00", amount="1.00")
    w.entry(project, status=TimeEntry.Status.NON_BILLABLE, work_date=last_week, hours="8.00")
    w.entry(project, status=TimeEntry.Status.RETRACTED, work_date=last_week, hours="10.00")
    w.entry(project, status=RATED, work_date=monday, hours="9.00", amount="1.00")  # this week
    w.entry(project, status=RATED, work_date=start - timedelta(days=1), hours="9.00", amount="1.00")
    w.entry(
        project,
        status=RATED,
        work_date=last_week,
        hours="60.00",
        amount="1.00",
        person="bob@acme.example",
        role="partner",
    )
    w.entry(
        project,
        status=RATED,
        work_date=last_week,
        hours="5.00",
        amount="1.00",
        person="carol@acme.example",
    )
    return start, monday


def test_utilization_is_billed_hours_over_weekly_capacity_times_weeks():
    start, monday = _utilization_world()

    data = get_utilization()

    assert (data["weeks"], data["start"], data["end"]) == (
        4,
        start.isoformat(),
        (monday - timedelta(days=1)).isoformat(),
    )
    people = {p["email"]: p for p in data["by_person"]}
    assert people["ana@acme.example"] | {} == {
        "email": "ana@acme.example",
        "name": "Ana",
        "role": "consultant",
        "billed_hours": "80.00",
        "hours": "88.00",
        "capacity_hours": "160.00",
        "utilization": "50.0",
    }
    assert people["bob@acme.example"]["utilization"] == "75.0"  # 60 / (20 x 4)
    assert [p["email"] for p in data["by_person"]] == ["bob@acme.example", "ana@acme.example"]
    roles = {r["role"]: r["utilization"] for r in data["by_role"]}
    assert roles == {"consultant": "50.0", "partner": "75.0"}
    assert data["utilization"] == "58.3"  # 140 / 240
    assert data["without_person"] == [
        {"email": "carol@acme.example", "billed_hours": "5.00", "hours": "5.00"}
    ]
    one_week = get_utilization(weeks="1")
    assert {p["email"]: p["utilization"] for p in one_week["by_person"]}[
        "ana@acme.example"
    ] == "125.0"
    assert get_utilization(weeks="nonsense")["weeks"] == 4


def test_project_margin_counts_entries_for_tm_and_fee_lines_for_fixed_fee_and_retainer():
    tm = f.standard_world()
    ff, rt = w.fixed_fee_project(), w.retainer_project()
    gb = w.gb_project()
    closed = f.project("PRJ-OLD", status=Project.Status.CLOSED)
    day = w.days_ago(20)
    w.entry(tm, status=RATED, work_date=day, amount="1000.00", cost="600.00")
    w.entry(tm, status=INVOICED, work_date=day, amount="500.00", cost="300.00")
    w.entry(tm, status=TimeEntry.Status.NON_BILLABLE, work_date=day, cost="100.00")
    w.entry(tm, status=TimeEntry.Status.ON_HOLD, work_date=day, cost="50.00")
    w.entry(tm, status=TimeEntry.Status.RETRACTED, work_date=day, amount="999.00", cost="999.00")
    w.entry(ff, status=TimeEntry.Status.NON_BILLABLE, work_date=day, cost="800.00")
    w.line(w.invoice(ff), ff, kind=InvoiceLine.Kind.MILESTONE, amount="1000.00")
    w.line(
        w.invoice(ff, status=Invoice.Status.VOID),
        ff,
        kind=InvoiceLine.Kind.MILESTONE,
        amount="7.00",
    )
    w.entry(rt, status=INVOICED, work_date=day, amount="600.00", cost="400.00")  # paid by the fee
    posted = w.invoice(rt)
    w.line(posted, rt, kind=InvoiceLine.Kind.RETAINER, amount="500.00")
    w.line(posted, rt, kind=InvoiceLine.Kind.OVERAGE, amount="100.00")
    w.entry(gb, status=RATED, work_date=day, amount="200.00", cost="100.00", cost_currency="USD")
    w.entry(closed, status=RATED, work_date=day, amount="5.00", cost="1.00")
    w.fx("GBP", "USD", "1.25", w.days_ago(2))  # USD->GBP is its inverse, 0.8

    data = get_project_margin()

    rows = {p["psa_project_id"]: p for p in data["projects"]}
    assert set(rows) == {"PRJ-100", "PRJ-FF1", "PRJ-RT1", "PRJ-GB1"}
    assert (rows["PRJ-100"]["billed"]["amount"], rows["PRJ-100"]["cost"]["amount"]) == (
        "1500.00",
        "1050.00",
    )
    assert rows["PRJ-100"]["margin"] == {"amount": "450.00", "currency": "USD"}
    assert rows["PRJ-100"]["margin_percent"] == "30.0"
    assert (rows["PRJ-FF1"]["billed"]["amount"], rows["PRJ-FF1"]["margin_percent"]) == (
        "1000.00",
        "20.0",
    )
    assert (rows["PRJ-RT1"]["billed"]["amount"], rows["PRJ-RT1"]["margin_percent"]) == (
        "600.00",
        "33.3",
    )
    assert rows["PRJ-GB1"]["cost"] == {"amount": "80.00", "currency": "GBP"}
    assert rows["PRJ-GB1"]["margin_percent"] == "60.0"
    assert data["billed"] == {"amount": "3350.00", "currency": "USD", "unconverted": []}
    assert data["cost"] == {"amount": "2350.00", "currency": "USD", "unconverted": []}
    assert data["margin"] == {"amount": "1000.00", "currency": "USD"}
    assert data["margin_percent"] == "29.9"


def test_project_margin_without_an_fx_rate_for_the_cost_is_not_computed():
    gb = w.gb_project()
    w.entry(
        gb,
        status=RATED,
        work_date=w.days_ago(3),
        amount="200.00",
        cost="100.00",
        cost_currency="USD",
    )

    row = get_project_margin()["projects"][0]

    assert row["margin"] is None and row["margin_percent"] is None
    assert row["unconverted_cost"] == [{"amount": "100.00", "currency": "USD"}]
    assert ExceptionItem.objects.count() == 0


def test_a_project_with_cost_and_nothing_billed_is_on_the_margin_chart_as_a_loss():
    from billing.panels.present import present_margin

    tm = f.standard_world()
    ff = w.fixed_fee_project()
    day = w.days_ago(5)
    w.entry(tm, status=RATED, work_date=day, amount="1000.00", cost="600.00")
    w.entry(ff, status=TimeEntry.Status.NON_BILLABLE, work_date=day, cost="800.00")

    shown = present_margin(get_project_margin())

    loss = next(p for p in shown["projects"] if p["psa_project_id"] == "PRJ-FF1")
    assert loss["margin"] == {"amount": "-800.00", "currency": "USD"} and loss["is_loss"]
    assert loss["margin_percent"] is None  # no percentage of nothing billed
    chart = str(shown["chart"])
    assert "loss, nothing billed" in chart and ff.name in chart
