"""A queue's export: the rows the queue page shows under the same filters and sort, in its
words; and text that would run as a formula in a spreadsheet is neutralised."""

import csv
import io
from decimal import Decimal

import pytest

from config.exports import Column, csv_lines
from config.money import format_money
from tests.conftest import make_user
from tests.exports import csv_table, html_tables, xlsx_sheet, xlsx_table
from tests.factories.exceptions_queue import ExceptionItemFactory

pytestmark = pytest.mark.django_db

HOSTILE = '=HYPERLINK("http://evil.example","click")'


@pytest.fixture
def finance_client(client):
    client.force_login(make_user("fiona", "finance"))
    return client


@pytest.fixture
def items():
    big = ExceptionItemFactory(
        queue="finance",
        type_code="rate_missing",
        subject_ref="TE-1 · Globex · PRJ-100",
        amount_at_risk=Decimal("1125.00"),
        currency="USD",
        severity="high",
    )
    hostile = ExceptionItemFactory(
        queue="finance",
        type_code="rate_mismatch",
        subject_ref=HOSTILE,
        summary="@SUM(1+1)",
        amount_at_risk=Decimal("2500"),
        currency="JPY",
        severity="medium",
    )
    small = ExceptionItemFactory(
        queue="finance", type_code="rate_missing", amount_at_risk=Decimal("10.00"), currency="USD"
    )
    ExceptionItemFactory(queue="operations")  # another queue: never in finance's file
    return big, hostile, small


def _cells(table, label: str) -> list:
    index = next(i for i, header in enumerate(table.headers) if header.startswith(label))
    return [row[index] for row in table.rows]


def test_queue_export_is_the_filtered_sorted_table(finance_client, items):
    big, hostile, small = items
    query = {"min_amount": "100", "sort": "-amount"}
    page = finance_client.get("/exceptions/finance/", query)
    table = html_tables(page.content)[0]
    rows = csv_table(finance_client.get("/exceptions/finance/", {**query, "format": "csv"}))
    sheet = xlsx_table(finance_client.get("/exceptions/finance/", {**query, "format": "xlsx"}))
    shown_ids = [int(problem.split(" ")[0].lstrip("#")) for problem in _cells(table, "Problem")]
    assert set(shown_ids) == {hostile.pk, big.pk}  # not the small one, not operations'
    assert [int(row["Item"]) for row in rows.records()] == shown_ids  # in the page's order
    assert [int(value) for value in sheet.column("Item")] == shown_ids
    for shown, row in zip(table.records(), rows.records(), strict=True):
        assert _cells_of(table, shown, "Severity") == row["Severity"]
        assert row["Type"] in _cells_of(table, shown, "Problem")
        assert _cells_of(table, shown, "Count") == row["Count"]
        assert _cells_of(table, shown, "At risk") == format_money(row["At risk"], row["Currency"])
        assert _cells_of(table, shown, "Status") == row["Status"]
    amounts = {r["Currency"]: r["At risk"] for r in rows.records()}
    assert amounts == {"JPY": "2500", "USD": "1125.00"}  # decimal strings, the minor units
    assert sorted(sheet.column("At risk")) == [1125, 2500]


def _cells_of(table, record: dict, label: str) -> str:
    header = next(h for h in table.headers if h.startswith(label))
    return record[header]


def test_formula_looking_text_is_neutralised_in_csv_and_plain_text_in_xlsx(finance_client, items):
    _, hostile, _ = items
    rows = csv_table(finance_client.get("/exceptions/finance/", {"format": "csv"}))
    record = next(r for r in rows.records() if r["Item"] == str(hostile.pk))
    assert record["Subject"] == "'" + HOSTILE and record["Summary"] == "'@SUM(1+1)"
    sheet = xlsx_sheet(finance_client.get("/exceptions/finance/", {"format": "xlsx"}))
    headers = [cell.value for cell in sheet[1]]
    cells = {row[0].value: row for row in sheet.iter_rows(min_row=2)}
    subject = cells[hostile.pk][headers.index("Subject")]
    assert subject.data_type == "s" and subject.value == HOSTILE  # a string, not a formula


@pytest.mark.parametrize("start", ["=", "+", "-", "@", "\t", "\r"])
def test_every_formula_start_gets_an_apostrophe_but_numbers_do_not(start):
    columns = [Column("Text", "text"), Column("Amount", "amount", "money", currency="currency")]
    rows = [{"text": f"{start}1+2", "amount": Decimal("-5.5"), "currency": "USD"}]
    lines = list(csv.reader(io.StringIO("".join(csv_lines(columns, rows)).lstrip("\ufeff"))))
    assert lines[1] == [f"'{start}1+2", "-5.50"]


def test_queue_export_is_refused_to_who_does_not_work_the_queue(client, items):
    client.force_login(make_user("piet", "pmo"))
    assert client.get("/exceptions/finance/", {"format": "csv"}).status_code == 403
    assert client.get("/exceptions/finance/", {"format": "xlsx"}).status_code == 403


def test_xlsx_money_formats_follow_the_currency_minor_units():
    from config.exports import money_format

    assert money_format("USD") == "#,##0.00"
    assert money_format("JPY") == "#,##0"
    assert money_format("KWD") == "#,##0.000"
