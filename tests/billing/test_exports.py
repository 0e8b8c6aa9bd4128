"""Exports of billing's lists (config/exports.py): each file holds the rows its page's table
shows under the same filters, in the page's words; money as decimal amounts with a currency
column, XLSX cells typed; refused to whoever the page refuses."""

from datetime import datetime
from decimal import Decimal

import pytest
from django.core.management import call_command

from billing.models import BillingRun, Invoice
from config.money import format_money
from tests.billing.test_rating import approve
from tests.conftest import make_user
from tests.exports import csv_table, html_tables, xlsx_sheet, xlsx_table
from tests.factories import billing_invoices as f

pytestmark = pytest.mark.django_db


@pytest.fixture
def world(client, psa_secret):
    """Two customers' projects, time on both (one entry held), a billing run: two drafts."""
    project = f.standard_world()
    f.project("PRJ-200", entity=project.contract.legal_entity, client=f.customer("Initech"))
    approve(client, psa_secret, time_entry_id="TE-1", hours="7.50")
    approve(client, psa_secret, time_entry_id="TE-2", project_id="PRJ-200", hours="3.00")
    approve(client, psa_secret, time_entry_id="TE-H", role="partner", hours="2.00")
    call_command("billing_run", "--period", "2026-11")
    assert Invoice.objects.count() == 2


def _page_and_files(client, path: str, query: dict):
    page = client.get(path, query)
    assert page.status_code == 200
    table = html_tables(page.content)[0]
    return (
        table,
        csv_table(client.get(path, {**query, "format": "csv"})),
        xlsx_table(client.get(path, {**query, "format": "xlsx"})),
    )


def test_invoices_export_is_the_filtered_table(finance_client, world):
    initech = Invoice.objects.get(customer__name="Initech")
    query = {"status": "draft", "customer": str(initech.customer_id)}
    table, csv_rows, xlsx_rows = _page_and_files(finance_client, "/invoices/", query)
    assert len(table.rows) == len(csv_rows.rows) == len(xlsx_rows.rows) == 1
    for shown, row in zip(table.records(), csv_rows.records(), strict=True):
        assert shown["Invoice"] == row["Invoice"] == f"Draft #{initech.pk}"
        for label in ("Customer", "Entity", "Period", "Status", "Lines"):
            assert shown[label] == row[label], label
        assert row["Status"] == "Draft"  # the label, not the code
        for label in ("Net", "Gross"):
            assert shown[label] == format_money(row[label], row["Currency"])
        assert row["Gross"] == str(initech.gross_total.quantize(Decimal("0.01")))
    sheet_row = dict(zip(xlsx_rows.headers, xlsx_rows.rows[0], strict=True))
    assert Decimal(str(sheet_row["Gross"])) == Decimal(csv_rows.records()[0]["Gross"])
    assert sheet_row["Period"] == datetime(2026, 11, 1) and sheet_row["Currency"] == "USD"


def test_xlsx_money_and_dates_are_typed_and_formatted(finance_client, world):
    sheet = xlsx_sheet(finance_client.get("/invoices/", {"format": "xlsx"}))
    headers = [cell.value for cell in sheet[1]]
    gross = sheet.cell(row=2, column=headers.index("Gross") + 1)
    period = sheet.cell(row=2, column=headers.index("Period") + 1)
    assert gross.data_type == "n" and gross.number_format == "#,##0.00"
    assert period.is_date and period.number_format == "yyyy-mm"


def test_time_export_is_the_filtered_table(finance_client, world):
    table, csv_rows, xlsx_rows = _page_and_files(finance_client, "/time/", {"status": "on_hold"})
    assert [row["Entry"] for row in csv_rows.records()] == ["TE-H"]
    _same_time_rows(table, csv_rows)
    table, csv_rows, xlsx_rows = _page_and_files(finance_client, "/time/", {"project": "PRJ-200"})
    assert table.column("Entry") == csv_rows.column("Entry") == ["TE-2"]
    _same_time_rows(table, csv_rows)
    assert xlsx_rows.column("Entry") == ["TE-2"] and xlsx_rows.column("Hours") == [3]


def _same_time_rows(table, csv_rows):
    assert len(table.rows) == len(csv_rows.rows)
    for shown, row in zip(table.records(), csv_rows.records(), strict=True):
        assert shown["Entry"] == row["Entry"] and shown["Date"] == row["Date"]
        assert shown["Hours"] == row["Hours"] and shown["Card version"] == row["Card version"]
        assert shown["Amount"] == format_money(row["Amount"] or None, row["Currency"])
        assert shown["Status"].startswith(row["Status"])
        if row["Held because"]:
            assert row["Held because"] in shown["Status"]
        assert shown["Invoice"] == row["Invoice"]


def test_projects_export_is_the_filtered_table(finance_client, world):
    table, csv_rows, xlsx_rows = _page_and_files(finance_client, "/projects/", {"q": "Initech"})
    assert csv_rows.column("PSA project") == ["PRJ-200"] and len(table.rows) == 1
    for shown, row in zip(table.records(), csv_rows.records(), strict=True):
        assert shown["Project"] == row["Project"]
        assert shown["Customer"] == f"{row['Customer']} {row['Customer id']}"
        for label in ("Status", "Billing", "Entity"):
            assert shown[label] == row[label], label
        assert shown["Amount"] == format_money(row["Amount"], row["Currency"])
        assert shown["Period"] == f"{row['Start']} → {row['End']}"
        assert shown["Phases"] == row["Phases"]
    assert xlsx_rows.column("Amount") == [100000]


def test_billing_runs_export_is_the_filtered_table(finance_client, world):
    BillingRun.objects.create(period="2026-10-01", status=BillingRun.Status.FAILED)
    table, csv_rows, xlsx_rows = _page_and_files(
        finance_client, "/billing-runs/", {"period": "2026-11"}
    )
    assert len(table.rows) == len(csv_rows.rows) == len(xlsx_rows.rows) == 1
    for shown, row in zip(table.records(), csv_rows.records(), strict=True):
        assert shown["Run"] == f"#{row['Run']}"
        for label in ("Month", "Scope", "Status", "Step"):
            assert shown[label] == row[label], label
        assert shown["Progress"] == f"{row['Progress %']} %"
    failed = csv_table(finance_client.get("/billing-runs/", {"status": "failed", "format": "csv"}))
    assert failed.column("Month") == ["2026-10"] and failed.column("Status") == ["Failed"]


def test_the_pages_show_an_export_control_carrying_their_filters(finance_client, world):
    page = finance_client.get("/time/", {"status": "on_hold"}).content.decode()
    assert 'href="?status=on_hold&amp;format=csv"' in page and 'data-export="xlsx"' in page
    for path in ("/invoices/", "/projects/", "/billing-runs/"):
        assert 'aria-label="Export these rows"' in finance_client.get(path).content.decode()


def test_exports_are_refused_to_whom_the_page_refuses(client, world):
    make_user("pm", "pmo")
    client.login(username="pm", password="pw-pm")
    for path in ("/invoices/", "/billing-runs/"):
        assert client.get(path, {"format": "csv"}).status_code == 403
        assert client.get(path, {"format": "xlsx"}).status_code == 403
    assert client.get("/time/", {"format": "csv"}).status_code == 200  # PMO sees time
    make_user("ops", "operations")
    client.login(username="ops", password="pw-ops")
    assert client.get("/projects/", {"format": "xlsx"}).status_code == 403


def test_an_unknown_format_is_a_bad_request(finance_client, world):
    assert finance_client.get("/invoices/", {"format": "pdf"}).status_code == 400
