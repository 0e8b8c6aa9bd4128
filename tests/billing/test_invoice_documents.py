"""An invoice as the customer reads it: the preview page and the PDF, the PDF rendered to an
image (pypdfium2) and its text read back, so what prints is what the review page says."""

from decimal import Decimal

import pypdfium2
import pytest
from django.core.management import call_command

from billing.models import Contract, Invoice
from tests.billing.test_rating import approve
from tests.conftest import make_user
from tests.factories import billing_invoices as f

pytestmark = pytest.mark.django_db


@pytest.fixture
def draft(client, psa_secret):
    f.standard_world()
    f.tax_rate("US-NY", "0.0800")
    approve(client, psa_secret, time_entry_id="TE-1", hours="7.50")
    Contract.objects.update(po_number="PO-4711", payment_terms="NET30")
    call_command("billing_run", "--period", "2026-11")
    make_user("fin", "finance")
    client.login(username="fin", password="pw-fin")
    return Invoice.objects.get()


def draft_image_path():
    from django.conf import settings

    return settings.VAR_DIR / "invoice-draft.png"  # to look at: the page as it prints


def _pdf_text_and_ink(content: bytes) -> tuple[str, float]:
    pdf = pypdfium2.PdfDocument(content)
    page = pdf[0]
    text = page.get_textpage().get_text_range()
    image = page.render(scale=1).to_pil().convert("L")
    dark = sum(image.histogram()[:128])  # pixels darker than mid-grey
    return text, dark / (image.width * image.height)


def test_the_pdf_prints_the_invoice_as_reviewed(client, draft):
    response = client.get(f"/invoices/{draft.pk}/pdf/")
    assert response.status_code == 200 and response["Content-Type"] == "application/pdf"
    assert f'filename="invoice-draft-{draft.pk}.pdf"' in response["Content-Disposition"]
    text, ink = _pdf_text_and_ink(response.content)
    pypdfium2.PdfDocument(response.content)[0].render(scale=2).to_pil().save(
        draft_image_path(), format="PNG"
    )
    assert 0.005 < ink < 0.5  # a page with text on it, not blank, not a black box
    for words in (
        "Draft: not an invoice yet", f"Draft #{draft.pk}", "Globex", "PO-4711", "NET30",
        "7.50 h", "150.00 USD / h", "1,125.00 USD", "90.00 USD", "1,215.00 USD", "Total due",
    ):  # fmt: skip
        assert words in text, words


def test_a_posted_invoice_prints_its_number_and_no_draft_mark(client, draft, systems):
    from tests.helpers import drain

    client.post("/invoices/approve/", {"invoice": [draft.pk]})
    drain()
    Invoice.objects.filter(pk=draft.pk).update(number="INV-2026-0042")
    response = client.get(f"/invoices/{draft.pk}/pdf/")
    text, _ink = _pdf_text_and_ink(response.content)
    assert "Invoice INV-2026-0042" in text and "Draft" not in text
    assert 'filename="invoice-INV-2026-0042.pdf"' in response["Content-Disposition"]


def test_the_preview_page_shows_the_same_document(client, draft):
    page = client.get(f"/invoices/{draft.pk}/preview/").content.decode()
    assert 'data-testid="invoice-document"' in page and "Draft: not an invoice yet" in page
    assert "1,215.00 USD" in page and "PO-4711 (" in page and "Tax (US-NY 8.00 %)" in page
    assert Decimal(draft.gross_total) == Decimal("1215.00")


def test_documents_are_for_finance(client, draft):
    make_user("pm", "pmo")
    client.logout()
    client.login(username="pm", password="pw-pm")
    assert client.get(f"/invoices/{draft.pk}/pdf/").status_code == 403
    assert client.get(f"/invoices/{draft.pk}/preview/").status_code == 403
    assert client.get("/invoices/999999/pdf/").status_code == 403
