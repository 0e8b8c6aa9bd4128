"""Dashboard tables as files: each panel that draws a table offers it as CSV and XLSX
(``?panel=<key>&format=csv``), with the rows the panel shows, for whoever sees the panel."""

import re

import pytest
from django.test import Client

from tests.conftest import make_user
from tests.dashboards.test_pages_and_api import _rows
from tests.exports import csv_table, html_tables, xlsx_table
from tests.factories import billing_invoices as f

pytestmark = pytest.mark.django_db

TABLE_PANELS = {
    "finance": {
        "billing:unbilled-time",
        "billing:revenue-at-risk",
        "billing:billing-cycle-time",
        "exceptions:queue-ages:finance",
        "mdm:customer-master",
    },
    "pmo": {"billing:utilization", "billing:project-margin", "exceptions:queue-ages:pmo"},
    "operations": {
        "exceptions:operations-integration-health",
        "exceptions:queue-ages:operations",
        "billing:demo-traffic",
    },
}


def _client(*roles) -> Client:
    client = Client()
    client.force_login(make_user("u-" + "-".join(roles), *roles))
    return client


def _sections(content: bytes) -> dict[str, str]:
    found = re.findall(r'data-panel="([^"]+)">(.*?)</section>', content.decode(), re.S)
    return dict(found)


@pytest.mark.parametrize("name", ["finance", "pmo", "operations"])
def test_each_panel_table_exports_the_rows_it_shows(name, systems):
    f.standard_world()
    _rows(1, 5)
    client = _client("admin")
    sections = _sections(client.get(f"/dashboards/{name}/", {"weeks": "8"}).content)
    exported = {key for key, html in sections.items() if "format=csv" in html}
    assert exported == {key for key in TABLE_PANELS[name] if key in sections}
    counted = 0
    for key in exported:
        link = re.search(r'href="\?([^"]*format=xlsx)"', sections[key]).group(1)
        assert set(link.split("&amp;")) == {
            "weeks=8",
            f"panel={key.replace(':', '%3A')}",
            "format=xlsx",
        }
        tables = html_tables(sections[key])
        shown = tables[0].rows if tables else []
        query = {"panel": key, "weeks": "8"}
        rows = csv_table(client.get(f"/dashboards/{name}/", {**query, "format": "csv"}))
        sheet = xlsx_table(client.get(f"/dashboards/{name}/", {**query, "format": "xlsx"}))
        assert len(rows.rows) == len(shown) == len(sheet.rows), key
        for page_row, file_row in zip(shown, rows.rows, strict=True):
            assert page_row[0].startswith(file_row[0]), (key, page_row, file_row)
        assert sheet.rows == [] or sheet.rows[0][0] == (rows.rows[0][0] or None)
        counted += len(rows.rows)
    assert counted  # the world fills these tables


def test_money_in_panel_files_is_a_decimal_amount_beside_its_currency(systems):
    f.standard_world()
    _rows(1, 4)
    client = _client("finance")
    query = {"panel": "billing:unbilled-time", "format": "csv"}
    rows = csv_table(client.get("/dashboards/finance/", query)).records()
    assert rows and all(row["Reporting currency"] == "USD" for row in rows)
    assert all(re.fullmatch(r"-?\d+\.\d\d", row["Total, reporting"]) for row in rows)
    assert {row["Total"].split(" ")[-1] for row in rows} <= {"USD", "GBP"}


def test_panel_files_are_refused_to_whom_the_dashboard_refuses(systems):
    pmo = _client("pmo")
    query = {"panel": "billing:unbilled-time", "format": "csv"}
    assert pmo.get("/dashboards/finance/", query).status_code == 403
    # A panel the viewer does not see on a dashboard they do see: no such table.
    operations = _client("operations")
    assert operations.get("/dashboards/finance/", query).status_code == 404
    assert operations.get("/dashboards/finance/", {**query, "panel": "nope"}).status_code == 404
    customer_master = {**query, "panel": "mdm:customer-master"}
    assert operations.get("/dashboards/finance/", customer_master).status_code == 200
