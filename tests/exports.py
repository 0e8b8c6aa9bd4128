"""Reading what a page shows and what its export wrote, to compare them row by row: the page's
HTML tables (html.parser), a CSV export and an XLSX export (openpyxl)."""

import csv
import io
from dataclasses import dataclass, field
from html.parser import HTMLParser

from openpyxl import load_workbook


@dataclass
class Table:
    headers: list[str] = field(default_factory=list)
    rows: list[list[str]] = field(default_factory=list)

    def column(self, label: str) -> list[str]:
        index = self.headers.index(label)
        return [row[index] for row in self.rows]

    def records(self) -> list[dict[str, str]]:
        return [dict(zip(self.headers, row, strict=False)) for row in self.rows]


class _TableParser(HTMLParser):
    """Every <table>: its heading cells and its body and foot rows as whitespace-normalised
    text (a row of one cell spanning the table, "nothing matches", is left out)."""

    def __init__(self) -> None:
        super().__init__()
        self.tables: list[Table] = []
        self._section = ""
        self._row: list[str] | None = None
        self._cell: list[str] | None = None
        self._spans = False

    def handle_starttag(self, tag, attrs):
        if tag == "table":
            self.tables.append(Table())
        elif tag in ("thead", "tbody", "tfoot"):
            self._section = tag
        elif tag == "tr":
            self._row, self._spans = [], False
        elif tag in ("td", "th"):
            self._cell = []
            self._spans = self._spans or any(name == "colspan" for name, _ in attrs)
        elif tag == "br" and self._cell is not None:
            self._cell.append(" ")

    def handle_endtag(self, tag):
        if tag in ("td", "th") and self._cell is not None and self._row is not None:
            self._row.append(" ".join("".join(self._cell).split()))
            self._cell = None
        elif tag == "tr" and self._row is not None:
            table = self.tables[-1]
            if self._section == "thead":
                table.headers = self._row
            elif self._section in ("tbody", "tfoot") and not (self._spans and len(self._row) == 1):
                table.rows.append(self._row)
            self._row = None

    def handle_data(self, data):
        if self._cell is not None:
            self._cell.append(data)


def html_tables(content: bytes | str) -> list[Table]:
    parser = _TableParser()
    parser.feed(content.decode() if isinstance(content, bytes) else content)
    return parser.tables


def file_bytes(response) -> bytes:
    if getattr(response, "streaming", False):
        return b"".join(response.streaming_content)
    return response.content


def csv_table(response) -> Table:
    assert response["Content-Type"].startswith("text/csv"), response["Content-Type"]
    assert response["Content-Disposition"].startswith("attachment; filename=")
    lines = list(csv.reader(io.StringIO(file_bytes(response).decode("utf-8-sig"))))
    return Table(headers=lines[0], rows=lines[1:])


def xlsx_sheet(response):
    assert response["Content-Type"].startswith("application/vnd.openxmlformats")
    return load_workbook(io.BytesIO(file_bytes(response))).worksheets[0]


def xlsx_table(response) -> Table:
    """The sheet's values (numbers, dates as openpyxl reads them; empty cells None)."""
    rows = list(xlsx_sheet(response).iter_rows(values_only=True))
    return Table(headers=list(rows[0]), rows=[list(row) for row in rows[1:]])
