"""Dashboard pages and /api/v1/metrics/: who sees what, the JSON's shape, bounded queries."""

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from billing.models import TimeEntry
from tests.conftest import make_user
from tests.dashboards import world as w
from tests.factories import billing_invoices as f
from tests.factories.exceptions_queue import ExceptionItemFactory

pytestmark = pytest.mark.django_db

FINANCE_PANELS = {
    "billing:unbilled-time",
    "billing:revenue-at-risk",
    "billing:invoice-latency",
    "billing:billing-cycle-time",
    "billing:late-time",
    "billing:revenue-leakage",
    "billing:approvals",
    "billing:reconciliation",
    "exceptions:queue-ages:finance",
    "mdm:customer-master",
}
PMO_PANELS = {"billing:utilization", "billing:project-margin", "exceptions:queue-ages:pmo"}


def _client(*roles, username=None) -> Client:
    client = Client()
    client.force_login(make_user(username or "u-" + "-".join(roles), *roles))
    return client


def _panels(response) -> set[str]:
    import re

    return set(re.findall(r'data-panel="([^"]+)"', response.content.decode()))


def test_finance_sees_the_finance_dashboard_and_pmo_is_refused(systems):
    f.standard_world()
    finance = _client("finance")
    response = finance.get("/dashboards/finance/")
    assert response.status_code == 200
    assert _panels(response) == FINANCE_PANELS
    assert b"Finance dashboard" in response.content
    assert _client("pmo").get("/dashboards/finance/").status_code == 403


def test_pmo_sees_hours_and_margin_but_no_finance_money_panels():
    response = _client("pmo").get("/dashboards/pmo/")
    assert response.status_code == 200
    assert _panels(response) == PMO_PANELS
    assert b'href="/dashboards/finance/"' not in response.content  # no tab to it either


def test_operations_dashboard_shows_integration_health_and_its_queue(systems):
    response = _client("operations").get("/dashboards/operations/")
    assert _panels(response) == {
        "exceptions:operations-integration-health",
        "exceptions:queue-ages:operations",
        "billing:demo-traffic",  # the demo traffic switch (not in production)
    }
    assert b"Failed syncs" in response.content


def test_unknown_dashboard_is_404_and_anonymous_is_sent_to_login():
    finance = _client("finance")
    assert finance.get("/dashboards/nope/").status_code == 404
    assert finance.get("/dashboards/home/").status_code == 404
    assert Client().get("/dashboards/finance/").status_code == 302


def test_admin_has_a_tab_per_dashboard_and_a_nav_item_each():
    admin = make_user("root")
    admin.is_superuser = True
    admin.save()
    client = Client()
    client.force_login(admin)
    body = client.get("/dashboards/pmo/").content.decode()
    for name in ("finance", "pmo", "operations"):
        assert f'href="/dashboards/{name}/"' in body


def test_metrics_json_has_every_figure_the_role_may_see(api_client_for, systems):
    body = api_client_for("finance", "pmo", "operations").get("/api/v1/metrics/").json()
    assert FINANCE_PANELS | PMO_PANELS | {"integration_health"} <= set(body)
    assert "exceptions:operations-integration-health" not in body  # served once, as its source
    unbilled = body["billing:unbilled-time"]
    assert set(unbilled) == {
        "as_of",
        "reporting_currency",
        "buckets",
        "total",
        "by_client",
        "by_project",
        "filters",
        "weekly",
    }
    assert unbilled["buckets"] == ["0-30", "31-60", "61-90", "90+"]
    assert set(body["billing:invoice-latency"]) >= {"median", "p90", "count", "window_days"}
    assert set(body["billing:utilization"]) >= {"by_person", "by_role", "weeks"}


def test_metrics_of_one_dashboard_and_role_scoping(api_client_for, systems):
    ops = api_client_for("operations").get("/api/v1/metrics/?dashboard=operations").json()
    assert set(ops) == {
        "integration_health",
        "exceptions:queue-ages:operations",
        "billing:demo-traffic",
    }
    pmo = api_client_for("pmo").get("/api/v1/metrics/").json()
    assert "billing:unbilled-time" not in pmo and "billing:revenue-at-risk" not in pmo
    assert "billing:utilization" in pmo
    weekly = api_client_for("pmo", username="p2").get("/api/v1/metrics/?dashboard=pmo&weeks=2")
    assert weekly.json()["billing:utilization"]["weeks"] == 2
    assert (
        api_client_for("pmo", username="p3").get("/api/v1/metrics/?dashboard=x").status_code == 404
    )


def _rows(start: int, stop: int) -> None:
    """Per row: a client and project (USD or GBP), rated and invoiced time, a person, an item."""
    for i in range(start, stop):
        client = f.customer(f"Client {i:02d}")
        project = f.project(f"PRJ-Q{i:02d}", client=client, currency="GBP" if i % 2 else "USD")
        w.entry(
            project,
            status=TimeEntry.Status.RATED,
            work_date=w.days_ago(i * 7),
            amount="100.00",
            cost="60.00",
        )
        w.entry(
            project,
            status=TimeEntry.Status.INVOICED,
            work_date=w.days_ago(3),
            amount="50.00",
            cost="20.00",
            person=f"p{i}@acme.example",
        )
        f.person(f"p{i}@acme.example")
        ExceptionItemFactory(
            queue="finance",
            type_code=f"type_{i}",
            amount_at_risk="5.00",
            currency="GBP" if i % 2 else "USD",
        )


@pytest.mark.parametrize("name", ["finance", "pmo", "operations"])
def test_dashboard_queries_do_not_grow_with_rows(name):
    f.standard_world()
    w.fx("GBP", "USD", "1.25", w.days_ago(1))
    admin = make_user("root")
    admin.is_superuser = True
    admin.save()

    def count() -> int:
        client = Client()
        client.force_login(admin)
        with CaptureQueriesContext(connection) as queries:
            assert client.get(f"/dashboards/{name}/").status_code == 200
        return len(queries)

    _rows(1, 2)  # one row, in GBP: the FX look-up is made (it is skipped when all is USD)
    one = count()
    _rows(2, 22)
    assert count() == one


def test_the_dashboards_link_opens_the_first_dashboard_the_user_may_see():
    assert _client("finance").get("/dashboards/")["Location"] == "/dashboards/finance/"
    assert _client("pmo").get("/dashboards/")["Location"] == "/dashboards/pmo/"
    assert _client("operations").get("/dashboards/")["Location"] == "/dashboards/operations/"


def test_the_finance_dashboard_names_exception_types_in_words(systems):
    f.standard_world()
    ExceptionItemFactory(
        type_code="rate_missing", queue="finance", amount_at_risk="120.00", currency="USD"
    )
    html = _client("finance").get("/dashboards/finance/").content.decode()
    assert "No rate for the time" in html
    assert "<code>rate_missing</code>" not in html
