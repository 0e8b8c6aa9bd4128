"""A KWD legal entity bills end to end with three decimals (config/money.py): time approved over
signed HTTP, rated at 7.5 h x 12.345 KWD = 92.5875 → 92.588 (half-up), drafted by the billing
run with 5 % tax (4.6294 → 4.629), approved through the API, posted to the sandbox ERP, and the
three decimals on the invoice page, in the API JSON and in the ERP's payload."""

from datetime import date
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.db import transaction

from billing.models import Invoice, TimeEntry
from exceptions_queue.models import ExceptionItem
from integrations.models import SandboxRecord
from tests.billing.test_invoices import _erp_status
from tests.billing.test_rating import approve
from tests.conftest import make_user
from tests.factories import billing_invoices as f
from tests.helpers import drain

pytestmark = pytest.mark.django_db
D = Decimal


def kwd_world():
    entity = f.legal_entity("KW01", "KWD", ("KW",))
    f.person(entity=entity, cost_rate="8.125")
    f.rate_card(
        "KW-STD",
        entity=entity,
        currency="KWD",
        versions=((date(2026, 1, 1), None, {"consultant": "12.345"}),),
    )
    f.tax_rate("KW", "0.0500")
    return f.project("PRJ-KW", entity=entity, currency="KWD", tax_jurisdiction="KW")


def test_a_kwd_entity_rates_drafts_approves_and_posts_with_three_decimals(
    client, psa_secret, systems, api_client_for
):
    kwd_world()
    entry = approve(client, psa_secret, time_entry_id="TE-KW", project_id="PRJ-KW", hours="7.50")
    assert (entry.status, entry.amount, entry.currency) == ("rated", D("92.588"), "KWD")
    assert (entry.cost_amount, entry.cost_currency) == (D("60.938"), "KWD")  # 60.9375

    call_command("billing_run", "--period", "2026-11")
    invoice = Invoice.objects.get()
    assert (invoice.currency, invoice.net_total, invoice.tax_total, invoice.gross_total) == (
        "KWD",
        D("92.588"),
        D("4.629"),
        D("97.217"),
    )

    finance = api_client_for("finance")
    assert finance.post(f"/api/v1/invoices/{invoice.pk}/approve/").status_code == 200
    drain()
    invoice.refresh_from_db()
    assert invoice.status == Invoice.Status.POSTED and invoice.erp_invoice_id
    posted = SandboxRecord.objects.get(system__slug="erp", operation="erp.invoice.create").data
    assert (posted["net_total"], posted["gross_total"]) == ("92.588", "97.217")
    assert posted["lines"][0]["amount"] == "92.588"

    _erp_status(client, systems, invoice, "sent", "97.217")
    assert invoice.status == Invoice.Status.SENT and invoice.erp_total == D("97.217")
    assert not ExceptionItem.objects.filter(type_code="rate_mismatch").exists()  # totals agree

    data = finance.get(f"/api/v1/invoices/{invoice.pk}/").json()
    assert data["net_total"] == {"amount": "92.588", "currency": "KWD"}
    assert data["tax_total"] == {"amount": "4.629", "currency": "KWD"}
    assert data["gross_total"] == {"amount": "97.217", "currency": "KWD"}
    assert data["erp_total"] == {"amount": "97.217", "currency": "KWD"}
    assert data["lines"][0]["amount"] == {"amount": "92.588", "currency": "KWD"}
    assert data["lines"][0]["time_entries"][0]["amount"] == "92.588"
    entries = finance.get("/api/v1/time-entries/?psa_time_entry_id=TE-KW").json()["results"]
    assert entries[0]["amount"] == {"amount": "92.588", "currency": "KWD"}

    make_user("fin", "finance")
    client.login(username="fin", password="pw-fin")
    page = client.get(f"/invoices/{invoice.pk}/").content.decode()
    assert "92.588 KWD" in page and "4.629 KWD" in page and "97.217 KWD" in page


def test_usd_keeps_two_decimals_beside_a_kwd_invoice(client, psa_secret, api_client_for):
    kwd_world()
    f.standard_world()
    approve(client, psa_secret, time_entry_id="TE-KW", project_id="PRJ-KW", hours="1.00")
    approve(client, psa_secret, time_entry_id="TE-US", hours="7.50")
    call_command("billing_run", "--period", "2026-11")
    finance = api_client_for("finance")
    totals = {
        row["currency"]: row["net_total"]["amount"]
        for row in finance.get("/api/v1/invoices/").json()["results"]
    }
    assert totals == {"KWD": "12.345", "USD": "1125.00"}  # by the currency, not the column


def test_an_amount_with_more_decimals_than_its_currency_is_refused(client, psa_secret):
    f.standard_world()
    entry = approve(client, psa_secret, time_entry_id="TE-1", hours="1.00")
    entry.amount = D("150.005")
    with pytest.raises(ValidationError, match="150.005 USD has more decimals than USD allows"):
        entry.full_clean()
    with (
        pytest.raises(ValidationError, match="more decimals than USD allows"),
        transaction.atomic(),
    ):
        entry.save()  # every save checks too, not only full_clean
    assert TimeEntry.objects.get(pk=entry.pk).amount == D("150.00")
