"""A page's table as a file: CSV or XLSX of the rows a list or dashboard table shows
(docs/decisions/0005-exports.md).

A page keeps its view, its filters and its permission; when the query string says
``format=csv`` or ``format=xlsx`` it hands the filtered rows (the same selector and FilterSet
the page uses, every page of them) and its :class:`Column` list to :func:`export_response`.

Cells are written as a person reads them: money as a number beside its currency column (CSV: a
decimal string to the currency's minor units, never a float; XLSX: a numeric cell with a number
format of the currency's decimals), dates as dates, datetimes in the site's time zone, labels
instead of codes (the column's value says which). Text that a spreadsheet would run as a
formula (starting ``= + - @``, a tab or a carriage return) gets a leading apostrophe in CSV;
in XLSX it is stored as a plain string cell, which no spreadsheet evaluates.
"""

import csv
import io
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from django.core.exceptions import BadRequest
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.utils import timezone
from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter

from config.money import amount_text, format_money, minor_units, round_money

TEXT, NUMBER, MONEY, DATE, MONTH, DATETIME = "text", "number", "money", "date", "month", "datetime"
FORMATS = ("csv", "xlsx")
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
CHUNK = 2000  # rows read from the database at a time

Value = str | Callable[[Any], Any]  # a dotted path ("customer.name", dict keys too) or a function


@dataclass(frozen=True)
class Column:
    """One column of an export: its heading, how to read its value from a row, and its kind.
    A ``money`` column names the row's currency (a path or a function) for its decimals."""

    label: str
    value: Value
    kind: str = TEXT
    currency: Value | None = None

    def read(self, row: Any) -> Any:
        return read(row, self.value)

    def currency_of(self, row: Any) -> str:
        return str(read(row, self.currency) or "") if self.currency is not None else ""


def read(row: Any, value: Value | None) -> Any:
    """``row``'s value at a dotted path (attributes or keys; None part way gives None; a
    method is called), or ``value(row)``."""
    if value is None:
        return None
    if callable(value):
        return value(row)
    current = row
    for part in value.split("."):
        if current is None:
            return None
        current = current.get(part) if isinstance(current, dict) else getattr(current, part)
        if callable(current):
            current = current()
    return current


@dataclass(frozen=True)
class PanelTable:
    """The table a dashboard panel shows, as a file: its columns, and the rows its template
    draws, from the panel's figure and its presented view (``rows(data, view)``). A panel
    offers it as ``extra["table"]`` (config/views.py serves it)."""

    columns: list[Column]
    rows: Callable[[dict, dict | None], Iterable[Any]]


def money_list_text(amounts: Iterable[dict] | None) -> str:
    """Amounts in several currencies as the page writes them, never added across:
    ``"92.588 KWD + 10.00 USD"``."""
    return " + ".join(format_money(amount) for amount in amounts or [])


def requested_format(request: HttpRequest) -> str | None:
    """``csv`` or ``xlsx`` when the query string asks for a file; None for the page. Any other
    ``format`` is a bad request (400), not a page."""
    wanted = request.GET.get("format", "")
    if not wanted:
        return None
    if wanted not in FORMATS:
        raise BadRequest(f"format must be one of {', '.join(FORMATS)}")
    return wanted


def guard(text: str) -> str:
    """A text cell a spreadsheet will not run as a formula (CSV/formula injection)."""
    return f"'{text}" if text.startswith(FORMULA_STARTS) else text


def _local(value: datetime) -> datetime:
    return timezone.localtime(value) if timezone.is_aware(value) else value


def csv_cell(column: Column, row: Any) -> str:
    """The CSV text of ``column`` in ``row``."""
    value = column.read(row)
    if value is None or value == "":
        return ""
    if column.kind == MONEY:
        return amount_text(Decimal(str(value)), column.currency_of(row))
    if column.kind == NUMBER:
        return str(value)
    if column.kind == DATETIME:
        return f"{_local(value):%Y-%m-%d %H:%M:%S}"
    if column.kind == MONTH:
        return f"{value:%Y-%m}"
    if column.kind == DATE:
        return value.isoformat()
    return guard(str(value))


def _rows(rows: Iterable[Any]) -> Iterator[Any]:
    if isinstance(rows, QuerySet):
        return rows.iterator(chunk_size=CHUNK)
    return iter(rows)


def _filename(name: str, extension: str) -> str:
    return f"{name}-{timezone.localdate():%Y-%m-%d}.{extension}"


class _Echo:
    """A file-like object whose write returns the line, for a streamed csv.writer."""

    def write(self, value: str) -> str:
        return value


def csv_lines(columns: list[Column], rows: Iterable[Any]) -> Iterator[str]:
    """The CSV lines (heading first, a byte-order mark so spreadsheets read UTF-8)."""
    writer = csv.writer(_Echo())
    yield "\ufeff" + writer.writerow([column.label for column in columns])
    for row in _rows(rows):
        yield writer.writerow([csv_cell(column, row) for column in columns])


def csv_response(name: str, columns: list[Column], rows: Iterable[Any]) -> StreamingHttpResponse:
    response = StreamingHttpResponse(
        csv_lines(columns, rows), content_type="text/csv; charset=utf-8"
    )
    response["Content-Disposition"] = f'attachment; filename="{_filename(name, "csv")}"'
    return response


def money_format(currency: str) -> str:
    """The XLSX number format of an amount in ``currency``: its minor units (JPY 0, KWD 3)."""
    places = minor_units(currency)
    return "#,##0" + ("." + "0" * places if places else "")


XLSX_FORMATS = {DATE: "yyyy-mm-dd", MONTH: "yyyy-mm", DATETIME: "yyyy-mm-dd hh:mm:ss"}


def xlsx_cell(sheet, column: Column, row: Any):
    """A write-only cell of ``column`` in ``row``, typed and formatted."""
    value = column.read(row)
    if value is None or value == "":
        return WriteOnlyCell(sheet, value=None)
    if column.kind == MONEY:
        currency = column.currency_of(row)
        cell = WriteOnlyCell(sheet, value=round_money(Decimal(str(value)), currency))
        cell.number_format = money_format(currency)
        return cell
    if column.kind == NUMBER:
        return WriteOnlyCell(sheet, value=Decimal(str(value)))
    if column.kind in XLSX_FORMATS:
        if isinstance(value, datetime):
            value = _local(value).replace(tzinfo=None)
        cell = WriteOnlyCell(sheet, value=value)
        cell.number_format = XLSX_FORMATS[column.kind]
        return cell
    cell = WriteOnlyCell(sheet, value=str(value))
    cell.data_type = "s"  # a string, never a formula, whatever it starts with
    return cell


def sheet_title(title: str) -> str:
    """A sheet's name as spreadsheets allow it: no ``: \\ / ? * [ ]``, at most 31 characters."""
    return re.sub(r"[:\\/?*\[\]]", " ", title).strip()[:31] or "Export"


def xlsx_bytes(title: str, columns: list[Column], rows: Iterable[Any]) -> bytes:
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet(title=sheet_title(title))
    sheet.freeze_panes = "A2"
    for index, column in enumerate(columns):
        sheet.column_dimensions[get_column_letter(index + 1)].width = min(
            max(len(column.label) + 4, 12), 40
        )
    heading = []
    for column in columns:
        cell = WriteOnlyCell(sheet, value=column.label)
        cell.font = Font(bold=True)
        heading.append(cell)
    sheet.append(heading)
    for row in _rows(rows):
        sheet.append([xlsx_cell(sheet, column, row) for column in columns])
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def xlsx_response(
    name: str, title: str, columns: list[Column], rows: Iterable[Any]
) -> HttpResponse:
    response = HttpResponse(xlsx_bytes(title, columns, rows), content_type=XLSX_TYPE)
    response["Content-Disposition"] = f'attachment; filename="{_filename(name, "xlsx")}"'
    return response


def export_response(
    fmt: str, *, name: str, columns: list[Column], rows: Iterable[Any], title: str = ""
) -> HttpResponse | StreamingHttpResponse:
    """The file of ``rows``: ``fmt`` from :func:`requested_format`; ``name`` makes the file
    name (``invoices-2026-12-01.csv``), ``title`` the XLSX sheet's (``name`` by default)."""
    if fmt == "csv":
        return csv_response(name, columns, rows)
    return xlsx_response(name, title or name, columns, rows)


def export_query(query, **extra: str) -> str:
    """The query string of a page's export links: its filters without ``page`` and
    ``format`` (the links add ``format``), plus ``extra``."""
    params = query.copy()
    for key in ("page", "format"):
        params.pop(key, None)
    for key, value in extra.items():
        params[key] = value
    return params.urlencode()
