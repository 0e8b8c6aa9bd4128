"""The customer list's export: the rows the page shows under the same filters, in its words."""

import pytest

from mdm.models import Customer
from tests.conftest import make_user
from tests.exports import csv_table, html_tables, xlsx_table
from tests.factories.mdm import CustomerFactory

pytestmark = pytest.mark.django_db


def test_customers_export_is_the_filtered_table(client):
    client.force_login(make_user("fiona", "finance"))
    parent = CustomerFactory(name="Globex Holdings", country="US")
    CustomerFactory(name="Globex Europe", country="DE", parent=parent)
    CustomerFactory(name="Initech", country="US", status=Customer.Status.BLOCKED)
    query = {"q": "globex"}
    table = html_tables(client.get("/customers/", query).content)[0]
    rows = csv_table(client.get("/customers/", {**query, "format": "csv"}))
    sheet = xlsx_table(client.get("/customers/", {**query, "format": "xlsx"}))
    assert sorted(rows.column("Name")) == ["Globex Europe", "Globex Holdings"]
    assert len(table.rows) == len(rows.rows) == len(sheet.rows) == 2
    for shown, row in zip(table.records(), rows.records(), strict=True):
        for label in ("Id", "Name", "Legal name", "Country", "Parent", "Status"):
            assert shown[label] == row[label], label
        assert shown["CRM account"] == (row["CRM account"] or "—")
    assert sheet.column("Name") == rows.column("Name")
    blocked = csv_table(client.get("/customers/", {"status": "blocked", "format": "csv"}))
    assert blocked.column("Name") == ["Initech"] and blocked.column("Status") == ["Blocked"]


def test_customers_export_is_refused_to_whom_the_page_refuses(client):
    client.force_login(make_user("ivy", "integration"))
    assert client.get("/customers/", {"format": "csv"}).status_code == 403
    assert client.get("/customers/", {"format": "xlsx"}).status_code == 403
