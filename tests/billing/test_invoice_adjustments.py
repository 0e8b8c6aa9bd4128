"""Finance's changes to a draft before approval (billing/services/invoice_adjustments.py):
write a line down or up, hold an entry to the next run, take an entry off. Figures by hand:
TE-1 7.50 h and TE-2 2.00 h at 150.00 USD, tax 8 % (US-NY)."""

from decimal import Decimal

import pytest
from django.core.management import call_command

from billing.models import Invoice, InvoiceLine, TimeEntry
from billing.services.invoice_adjustments import AdjustmentRefused, adjust_line, remove_entry
from tests.billing.test_rating import approve
from tests.conftest import make_user
from tests.factories import billing_invoices as f

pytestmark = pytest.mark.django_db


@pytest.fixture
def fin(client):
    user = make_user("fin", "finance")
    client.login(username="fin", password="pw-fin")
    client.user = user
    return client


@pytest.fixture
def draft(client, psa_secret):
    f.standard_world()
    f.tax_rate("US-NY", "0.0800")
    approve(client, psa_secret, time_entry_id="TE-1", hours="7.50")
    approve(client, psa_secret, time_entry_id="TE-2", hours="2.00")
    call_command("billing_run", "--period", "2026-11")
    invoice = Invoice.objects.get()
    assert (invoice.net_total, invoice.tax_total) == (Decimal("1425.00"), Decimal("114.00"))
    return invoice


def _time_line(invoice) -> InvoiceLine:
    return invoice.lines.get(kind=InvoiceLine.Kind.TIME)


def test_a_write_down_is_a_line_of_the_difference_in_the_totals_and_the_erp_payload(
    fin, draft, systems
):
    from billing.services.invoice_posting import _erp_payload

    line = _time_line(draft)
    response = fin.post(
        f"/invoices/{draft.pk}/lines/{line.pk}/adjust/",
        {"amount": "1,200.00", "reason": "goodwill: onboarding overran"},
        follow=True,
    )
    assert "Line adjusted" in response.content.decode()
    draft.refresh_from_db()
    adjustment = draft.lines.get(kind=InvoiceLine.Kind.ADJUSTMENT)
    assert adjustment.amount == Decimal("-225.00")
    assert "goodwill: onboarding overran" in adjustment.description
    # 1,200.00 net, tax 96.00, gross 1,296.00; the time line still sums its entries.
    assert (draft.net_total, draft.tax_total, draft.gross_total) == (
        Decimal("1200.00"), Decimal("96.00"), Decimal("1296.00"),
    )  # fmt: skip
    assert _time_line(draft).amount == Decimal("1425.00")
    payload = _erp_payload(draft)
    assert payload["net_total"] == "1200.00"
    assert {(row["kind"], row["amount"]) for row in payload["lines"]} == {
        ("time", "1425.00"), ("adjustment", "-225.00"),
    }  # fmt: skip
    history = adjustment.history.first()
    assert history.history_user == fin.user
    call_command("billing_run", "--period", "2026-11")  # a re-run keeps what finance did
    draft.refresh_from_db()
    assert draft.net_total == Decimal("1200.00") and draft.lines.count() == 2
    # A write-up replaces it; the line's own amount takes it away again.
    adjust_line(
        invoice_id=draft.pk, line_id=line.pk, new_amount="1500", reason="rush", user=fin.user
    )
    draft.refresh_from_db()
    assert draft.lines.get(kind="adjustment").amount == Decimal("75.00")
    assert draft.net_total == Decimal("1500.00")
    adjust_line(
        invoice_id=draft.pk, line_id=line.pk, new_amount="1425.00", reason="undo", user=fin.user
    )
    draft.refresh_from_db()
    assert not draft.lines.filter(kind="adjustment").exists()
    assert draft.net_total == Decimal("1425.00")


@pytest.mark.parametrize(
    ("amount", "reason", "words"),
    [
        ("1200", "", "a reason is required"),
        ("abc", "x", "is not an amount"),
        ("-5", "x", "zero or more"),
        ("12.345", "x", "USD has 2 decimals"),
        ("NaN", "x", "zero or more"),
        ("1425.00", "x", "nothing changes"),
    ],
)
def test_a_bad_adjustment_is_a_message_and_changes_nothing(fin, draft, amount, reason, words):
    line = _time_line(draft)
    response = fin.post(
        f"/invoices/{draft.pk}/lines/{line.pk}/adjust/",
        {"amount": amount, "reason": reason},
        follow=True,
    )
    assert response.status_code == 200 and words in response.content.decode()
    draft.refresh_from_db()
    assert draft.net_total == Decimal("1425.00") and draft.lines.count() == 1


def test_holding_an_entry_takes_it_off_and_the_next_run_bills_it_once(fin, draft):
    entry = TimeEntry.objects.get(psa_time_entry_id="TE-2")
    response = fin.post(
        f"/invoices/{draft.pk}/entries/{entry.pk}/hold/", {"reason": "client asked"}, follow=True
    )
    assert "the next billing run bills it" in response.content.decode()
    draft.refresh_from_db()
    entry.refresh_from_db()
    assert draft.net_total == Decimal("1125.00") and entry.status == TimeEntry.Status.RATED
    call_command("billing_run", "--period", "2026-11")
    draft.refresh_from_db()
    assert draft.net_total == Decimal("1425.00")
    assert entry.billings.filter(is_active=True).count() == 1


def test_taking_an_entry_off_writes_it_off_and_its_line_adjustment_goes_with_its_line(fin, draft):
    line = _time_line(draft)
    adjust_line(
        invoice_id=draft.pk, line_id=line.pk, new_amount="1400", reason="round", user=fin.user
    )
    for psa_id in ("TE-1", "TE-2"):
        entry = TimeEntry.objects.get(psa_time_entry_id=psa_id)
        remove_entry(invoice_id=draft.pk, entry_id=entry.pk, reason="not ours", user=fin.user)
        entry.refresh_from_db()
        assert entry.status == TimeEntry.Status.NON_BILLABLE
        assert "not ours" in entry.write_off_reason and entry.written_off_amount is not None
    # Nothing left on the draft: the line went, its write-down with it, and so the draft.
    assert not Invoice.objects.filter(pk=draft.pk).exists()
    assert TimeEntry.objects.get(psa_time_entry_id="TE-1").written_off_amount == Decimal("1125.00")
    call_command("billing_run", "--period", "2026-11")
    assert not Invoice.objects.exists()  # written off: never billed again


def test_only_drafts_change_and_only_finance_changes_them(fin, draft, client, systems):
    line = _time_line(draft)
    fin.post(f"/invoices/{draft.pk}/approve/")
    with pytest.raises(AdjustmentRefused, match="only drafts change"):
        adjust_line(invoice_id=draft.pk, line_id=line.pk, new_amount="1", reason="x", user=fin.user)
    page = fin.get(f"/invoices/{draft.pk}/").content.decode()
    assert "Write down or up" not in page
    make_user("pm", "pmo")
    client.logout()
    client.login(username="pm", password="pw-pm")
    assert client.post(f"/invoices/{draft.pk}/lines/{line.pk}/adjust/").status_code == 403
    other = Invoice.objects.exclude(pk=draft.pk).first()
    assert other is None
    with pytest.raises(AdjustmentRefused, match="no invoice line"):
        adjust_line(
            invoice_id=draft.pk + 1, line_id=line.pk, new_amount="1", reason="x", user=fin.user
        )
