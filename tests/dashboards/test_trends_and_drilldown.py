"""Weekly trends, drill-down links and the filters of the finance and PMO dashboards: figures
computed by hand, and each link's list page shows exactly the rows the figure counts."""

import html
import re
import uuid
from datetime import date, timedelta

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from billing.models import TimeEntry
from billing.panels.delivery import get_project_margin, get_utilization
from billing.panels.invoicing import get_invoice_latency
from billing.panels.present import present_margin, present_unbilled
from billing.panels.unbilled import get_unbilled_time
from integrations.models import OutboxMessage
from integrations.panels import integration_health, present_health
from tests.conftest import make_user
from tests.dashboards import world as w
from tests.factories import billing_invoices as f
from tests.factories.exceptions_queue import ExceptionItemFactory

pytestmark = pytest.mark.django_db
RATED, INVOICED = TimeEntry.Status.RATED, TimeEntry.Status.INVOICED


def _client(*roles) -> Client:
    client = Client()
    client.force_login(make_user("u-" + "-".join(roles), *roles))
    return client


def _listed(client: Client, url: str) -> int:
    """How many rows the list page at ``url`` shows (over all its pages)."""
    response = client.get(url)
    assert response.status_code == 200, url
    return response.context["page"].paginator.count


def _monday(day: date) -> date:
    return day - timedelta(days=day.weekday())


def _two_clients():
    acme = f.project("PRJ-A", client=f.customer("Acme"))
    beta = f.project("PRJ-B", client=f.customer("Beta"))
    return acme, beta


def test_unbilled_time_under_a_client_filter_and_its_drill_down_counts():
    acme, beta = _two_clients()
    f.standard_world()
    day = w.days_ago(9)
    w.entry(acme, status=RATED, work_date=day, hours="1.00", amount="100.00")
    w.entry(acme, status=RATED, work_date=day, hours="2.00", amount="50.00")
    w.entry(acme, status=INVOICED, work_date=day, hours="4.00", amount="400.00")
    w.entry(beta, status=RATED, work_date=day, hours="3.00", amount="70.00")

    data = get_unbilled_time(customer=str(acme.customer_id))

    assert data["filters"]["customer"] == acme.customer_id
    assert data["total"]["reporting"]["amount"] == "150.00"  # 100 + 50, not Beta's 70
    assert (data["total"]["hours"], data["total"]["entries"]) == ("3.00", 2)
    assert get_unbilled_time()["total"]["reporting"]["amount"] == "220.00"
    week = next(x for x in data["weekly"] if x["week"] == _monday(day).isoformat())
    assert (week["entries"], week["reporting"]["amount"]) == (2, "150.00")
    assert sum(x["entries"] for x in data["weekly"]) == 2
    assert len(data["weekly"]) == 12

    view = present_unbilled(data)
    finance = _client("finance")
    (project_row,) = view["projects"]
    assert project_row["time_url"] == (
        f"/time/?project=PRJ-A&customer={acme.customer_id}&status=rated"
    )
    assert _listed(finance, project_row["time_url"]) == project_row["entries"] == 2
    column = view["trend"]["columns"][data["weekly"].index(week)]
    assert _listed(finance, column["href"]) == week["entries"] == 2  # the client's only...
    by_project = _client("finance", "pmo")
    filtered = present_unbilled(get_unbilled_time(project="PRJ-A"))
    column = filtered["trend"]["columns"][data["weekly"].index(week)]
    assert "project=PRJ-A" in column["href"]
    assert _listed(by_project, column["href"]) == 2  # ...and of the project when filtered
    assert _listed(finance, present_unbilled(get_unbilled_time())["total_url"]) == 3


def test_unbilled_time_under_a_period_filter_counts_the_months_work_only():
    acme, _ = _two_clients()
    w.entry(acme, status=RATED, work_date=date(2026, 2, 27), amount="10.00")
    w.entry(acme, status=RATED, work_date=date(2026, 3, 2), amount="20.00")
    w.entry(acme, status=RATED, work_date=date(2026, 3, 31), amount="30.00")
    w.entry(acme, status=RATED, work_date=date(2026, 4, 1), amount="40.00")

    data = get_unbilled_time(**{"from": "2026-03", "to": "2026-03"})

    assert data["total"]["reporting"]["amount"] == "50.00"
    assert data["weekly"][-1]["week"] == "2026-03-30"  # the trend ends with the period
    assert sum(x["entries"] for x in data["weekly"]) == 2
    view = present_unbilled(data)
    assert "work_date_after=2026-03-01" in view["total_url"]
    assert "work_date_before=2026-03-31" in view["total_url"]
    assert _listed(_client("finance"), view["total_url"]) == 2
    assert get_unbilled_time(**{"from": "nonsense"})["total"]["reporting"]["amount"] == "100.00"


def test_project_margin_under_a_project_filter_and_its_weekly_trend():
    acme, beta = _two_clients()
    day = w.days_ago(15)
    w.entry(acme, status=RATED, work_date=day, amount="200.00", cost="120.00")
    w.entry(acme, status=INVOICED, work_date=day, amount="100.00", cost="50.00")
    w.entry(acme, status=TimeEntry.Status.ON_HOLD, work_date=day, cost="30.00")
    w.entry(beta, status=RATED, work_date=day, amount="10.00", cost="90.00")

    data = get_project_margin(project="PRJ-A")

    assert [p["psa_project_id"] for p in data["projects"]] == ["PRJ-A"]
    assert data["billed"]["amount"] == "300.00"
    assert data["cost"]["amount"] == "200.00"  # 120 + 50 + 30 (held time costs too)
    assert data["margin"]["amount"] == "100.00"
    assert data["margin_percent"] == "33.3"
    week = next(x for x in data["weekly"] if x["week"] == _monday(day).isoformat())
    assert (week["margin"]["amount"], week["margin_percent"]) == ("100.00", "33.3")
    everyone = get_project_margin()
    week_all = next(x for x in everyone["weekly"] if x["week"] == week["week"])
    assert week_all["margin"]["amount"] == "20.00"  # 100 + (10 - 90): Beta is a loss-maker
    view = present_margin(everyone)
    assert any(
        r["label"] == beta.name and r["segments"][0]["css"] == "seg-bad" for r in view["chart"].rows
    )
    beta_row = next(p for p in view["projects"] if p["psa_project_id"] == "PRJ-B")
    assert beta_row["is_loss"]
    assert _listed(_client("pmo"), beta_row["time_url"]) == 1


def test_invoice_latency_weekly_mean_and_its_filters():
    acme, beta = _two_clients()
    posted = timezone.make_aware(
        timezone.datetime.combine(w.days_ago(8), timezone.datetime.min.time())
    ) + timedelta(hours=12)
    for project, hours in ((acme, 10), (acme, 20), (beta, 40)):
        entry = w.entry(
            project,
            status=INVOICED,
            work_date=w.days_ago(20),
            amount="1.00",
            approved_at=posted - timedelta(hours=hours),
        )
        invoice = w.invoice(project, posted_at=posted)
        w.line(invoice, project, amount="1.00", entries=[entry])

    data = get_invoice_latency(customer=str(acme.customer_id))
    assert (data["count"], data["median"]) == (2, "15.0")
    week = next(x for x in data["weekly"] if x["invoices"])
    assert (week["week"], week["invoices"], week["mean_hours"]) == (
        _monday(posted.date()).isoformat(),
        2,
        "15.0",
    )
    assert next(x for x in get_invoice_latency()["weekly"] if x["invoices"])["mean_hours"] == "23.3"
    # Each week's column opens the invoices posted that week, under the client filter.
    from billing.panels.drill import latency_trend

    column = latency_trend(data)["columns"][data["weekly"].index(week)]
    assert "posted_after=" in column["href"] and f"customer={acme.customer_id}" in column["href"]
    assert _listed(_client("finance"), column["href"]) == week["invoices"] == 2


def test_utilization_weekly_is_billed_hours_over_capacity_per_week():
    acme, _ = _two_clients()
    f.person("ana@acme.example")  # 40 h a week
    last_monday = _monday(w.today()) - timedelta(weeks=1)
    w.entry(acme, status=RATED, work_date=last_monday, hours="20.00", amount="1.00")
    w.entry(
        acme,
        status=INVOICED,
        work_date=last_monday - timedelta(weeks=1),
        hours="50.00",
        amount="1.00",
    )

    data = get_utilization()
    assert [(x["billed_hours"], x["utilization"]) for x in data["weekly"][-2:]] == [
        ("50.00", "125.0"),
        ("20.00", "50.0"),
    ]
    assert data["weekly"][-1]["week"] == last_monday.isoformat()
    assert get_utilization(legal_entity="NOPE")["weekly"][-1]["utilization"] is None
    # A week's column opens that week's billed time only (not a non-billable entry beside it).
    from billing.panels.drill import utilization_trend

    w.entry(acme, status=TimeEntry.Status.NON_BILLABLE, work_date=last_monday, hours="3.00")
    column = utilization_trend(get_utilization())["columns"][-1]
    assert "status=rated&status=invoiced" in column["href"]
    assert _listed(_client("finance", "pmo"), column["href"]) == 1


def test_revenue_at_risk_by_type_links_to_exactly_its_open_items(systems):
    for status in ("open", "open", "assigned", "resolved"):
        ExceptionItemFactory(
            queue="finance",
            type_code="rate_missing",
            amount_at_risk="5.00",
            currency="USD",
            status=status,
        )
    finance = _client("finance")
    body = finance.get("/dashboards/finance/").content.decode()
    (href,) = set(re.findall(r'<a href="([^"]+)" data-drill="risk-type">', body))
    assert html.unescape(href) == "/exceptions/finance/?type=rate_missing"
    assert _listed(finance, html.unescape(href)) == 3


def _dead(system, *, days_ago=0, status=OutboxMessage.Status.DEAD):
    when = timezone.now() - timedelta(days=days_ago)
    return OutboxMessage.objects.create(
        system=system,
        kind="erp.test",
        idempotency_key=str(uuid.uuid4()),
        next_attempt_at=when,
        trace_id="t",
        status=status,
        dead_at=when if status == OutboxMessage.Status.DEAD else None,
    )


def test_dead_letters_by_week_and_per_system_link_to_exactly_those_messages(systems):
    erp, crm = systems["erp"][0], systems["crm"][0]
    _dead(erp), _dead(erp, days_ago=14), _dead(crm), _dead(crm, status=OutboxMessage.Status.FAILED)

    data = integration_health()
    assert sum(x["dead"] for x in data["weekly_dead_letters"]) == 3
    assert data["weekly_dead_letters"][-1]["by_system"] == {"crm": 1, "erp": 1}
    view = present_health(data)
    ops = _client("operations")
    erp_row = next(r for r in view["systems"] if r["system"] == "erp")
    assert _listed(ops, erp_row["dead_url"]) == erp_row["dead_letters"] == 2
    assert _listed(ops, view["dead_url"]) == data["dead_letters"] == 3
    this_week = view["trend"]["columns"][-1]
    assert "dead_after=" in this_week["href"]
    assert _listed(ops, this_week["href"]) == data["weekly_dead_letters"][-1]["dead"] == 2


def test_filters_reach_the_panels_and_the_form_keeps_them():
    acme, beta = _two_clients()
    w.entry(beta, status=RATED, work_date=w.days_ago(3), amount="70.00", cost="10.00")
    body = (
        _client("finance", "pmo")
        .get(f"/dashboards/finance/?customer={acme.customer_id}")
        .content.decode()
    )
    assert 'data-testid="dashboard-filters"' in body
    assert f'<option value="{acme.customer_id}" selected>Acme</option>' in body
    assert "70.00" not in body
    pmo = _client("pmo").get("/dashboards/pmo/?project=PRJ-B").content.decode()
    assert "Beta" in pmo and "project=PRJ-B" in pmo


@pytest.mark.parametrize("name", ["finance", "pmo"])
def test_filtered_dashboard_queries_do_not_grow_with_rows(name):
    f.standard_world()
    admin = make_user("root")
    admin.is_superuser = True
    admin.save()
    client = Client()
    client.force_login(admin)
    w.fx("GBP", "USD", "1.25", w.days_ago(1))

    def rows(start, stop):
        for i in range(start, stop):
            project = f.project(
                f"PRJ-T{i:02d}", client=f.customer(f"C{i}"), currency="GBP" if i % 2 else "USD"
            )
            for week in range(0, 12, 3):
                w.entry(
                    project,
                    status=RATED,
                    work_date=w.days_ago(week * 7 + i),
                    amount="10.00",
                    cost="4.00",
                )

    def count() -> int:
        with CaptureQueriesContext(connection) as queries:
            response = client.get(f"/dashboards/{name}/?legal_entity=US01&from=2026-01&to=2026-12")
            assert response.status_code == 200
        return len(queries)

    rows(1, 2)
    one = count()
    rows(2, 22)
    assert count() == one
