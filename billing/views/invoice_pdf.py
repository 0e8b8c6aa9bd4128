"""An invoice as a PDF (fpdf2: pure Python, maintained, no system libraries; see
docs/decisions/0006-invoice-documents.md), from the same document the preview page shows
(billing/selectors/documents.py). A draft or an approved invoice not yet in the ERP is marked
"Draft: not an invoice yet" on every page, so a preview sent by mistake cannot be paid.

Text is set in DejaVu Sans when the machine has it (every script a customer's name may be
written in); otherwise in the PDF's built-in Helvetica, whose Latin-1 cannot hold every
character: those are replaced, never dropped silently (a "?" shows where).
"""

from pathlib import Path

from fpdf import FPDF

FONT_DIRS = (Path("/usr/share/fonts/truetype/dejavu"), Path("/usr/share/fonts/dejavu"))
WIDTHS = (96, 22, 32, 36)  # description, quantity, rate, amount (mm; 186 in all)
PLAIN = str.maketrans({"“": '"', "”": '"', "‘": "'", "’": "'", "·": "-", "→": "->", "–": "-"})


class _Invoice(FPDF):
    def __init__(self, draft: bool) -> None:
        super().__init__(format="A4")
        self.draft = draft
        self.family, self.unicode = _font(self)
        self.set_auto_page_break(auto=True, margin=18)
        self.set_margins(12, 12, 12)

    def clean(self, value: str) -> str:
        """``value`` as the font can set it."""
        if self.unicode:
            return value
        return value.translate(PLAIN).encode("latin-1", "replace").decode("latin-1")

    def header(self) -> None:
        if self.draft:
            self.set_font(self.family, "B", 9)
            self.set_text_color(180, 35, 24)
            self.cell(0, 5, self.clean("Draft: not an invoice yet"), align="R")
            self.ln(6)
            self.set_text_color(0, 0, 0)

    def footer(self) -> None:
        self.set_y(-12)
        self.set_font(self.family, "", 8)
        self.cell(0, 5, f"Page {self.page_no()} of {{nb}}", align="C")


def _font(pdf: FPDF) -> tuple[str, bool]:
    for folder in FONT_DIRS:
        regular, bold = folder / "DejaVuSans.ttf", folder / "DejaVuSans-Bold.ttf"
        if regular.exists() and bold.exists():
            pdf.add_font("DejaVu", "", str(regular))
            pdf.add_font("DejaVu", "B", str(bold))
            return "DejaVu", True
    return "Helvetica", False


def render_invoice_pdf(document: dict) -> bytes:
    """The PDF bytes of ``document`` (billing.selectors.documents.invoice_document)."""
    pdf = _Invoice(draft=document["is_draft"])
    pdf.add_page()
    _head(pdf, document)
    _lines(pdf, document)
    _totals(pdf, document)
    return bytes(pdf.output())


def _head(pdf: _Invoice, document: dict) -> None:
    invoice, terms = document["invoice"], document["terms"]
    pdf.set_font(pdf.family, "B", 16)
    pdf.cell(0, 9, pdf.clean(document["title"]), new_x="LMARGIN", new_y="NEXT")
    pdf.set_font(pdf.family, "", 10)
    pdf.cell(0, 5, pdf.clean(document["seller"]), new_x="LMARGIN", new_y="NEXT")
    pdf.ln(4)
    pdf.set_font(pdf.family, "B", 10)
    pdf.cell(0, 5, "Bill to", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font(pdf.family, "", 10)
    for row in document["bill_to"]:
        pdf.cell(0, 5, pdf.clean(row), new_x="LMARGIN", new_y="NEXT")
    pdf.ln(3)
    facts = [
        ("Invoice date", f"{invoice.invoice_date:%Y-%m-%d}"),
        ("Service period", f"{invoice.period:%B %Y}"),
        ("Currency", invoice.currency),
        ("Payment terms", terms["payment_terms"] or "as agreed"),
    ]
    facts += [("Purchase order", f"{po} ({project})") for project, po in terms["purchase_orders"]]
    for label, value in facts:
        pdf.set_font(pdf.family, "B", 9)
        pdf.cell(36, 5, pdf.clean(label))
        pdf.set_font(pdf.family, "", 9)
        pdf.cell(0, 5, pdf.clean(value), new_x="LMARGIN", new_y="NEXT")
    pdf.ln(4)


def _lines(pdf: _Invoice, document: dict) -> None:
    pdf.set_font(pdf.family, "B", 9)
    pdf.set_fill_color(242, 244, 247)
    for width, title, align in zip(
        WIDTHS, ("Description", "Quantity", "Rate", "Amount"), "LRRR", strict=True
    ):
        pdf.cell(width, 7, title, border="B", align=align, fill=True)
    pdf.ln(7)
    pdf.set_font(pdf.family, "", 9)
    for line in document["lines"]:
        description = pdf.clean(line.description)
        rows = pdf.multi_cell(WIDTHS[0], 5, description, dry_run=True, output="LINES")
        height = 5 * max(len(rows), 1)
        if pdf.get_y() + height > pdf.page_break_trigger:
            pdf.add_page()
        top = pdf.get_y()
        pdf.multi_cell(WIDTHS[0], 5, description, new_x="RIGHT", new_y="TOP")
        pdf.set_xy(pdf.l_margin + WIDTHS[0], top)
        for width, value in zip(WIDTHS[1:], (line.quantity, line.rate, line.amount), strict=True):
            pdf.cell(width, 5, pdf.clean(value), align="R")
        pdf.set_xy(pdf.l_margin, top + height + 1)


def _totals(pdf: _Invoice, document: dict) -> None:
    pdf.ln(2)
    for index, (label, value) in enumerate(document["totals"]):
        last = index == len(document["totals"]) - 1
        pdf.set_font(pdf.family, "B" if last else "", 10 if last else 9)
        pdf.cell(sum(WIDTHS[:3]), 6, pdf.clean(label), align="R", border="T" if last else 0)
        pdf.cell(WIDTHS[3], 6, pdf.clean(value), align="R", border="T" if last else 0)
        pdf.ln(6)
