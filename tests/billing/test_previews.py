"""A billing run in preview writes nothing, and its figures are what the real run then writes.
Figures by hand: 7.50 h + 2.00 h at 150.00 USD = 1,425.00 net, 8 % tax 114.00, gross 1,539.00;
then 1.00 h more: 1,575.00 net, 126.00 tax, 1,701.00 gross (+162.00)."""

from decimal import Decimal

import pytest
from django.core.management import call_command

from billing.models import BillingRun, Invoice, TimeEntry
from billing.services.invoice_run.preview import preview_billing_run
from integrations.models import OutboxMessage, TraceStep
from tests.billing.test_rating import approve
from tests.conftest import make_user
from tests.factories import billing_invoices as f

pytestmark = pytest.mark.django_db
D = Decimal
NOV = Invoice._meta.get_field("period").to_python("2026-11-01")


@pytest.fixture
def month(client, psa_secret):
    f.standard_world()
    f.tax_rate("US-NY", "0.0800")
    approve(client, psa_secret, time_entry_id="TE-1", hours="7.50")
    approve(client, psa_secret, time_entry_id="TE-2", hours="2.00")


def _written() -> tuple:
    return (
        Invoice.objects.count(), BillingRun.objects.count(), TraceStep.objects.count(),
        OutboxMessage.objects.count(), TimeEntry.history.count(),
        list(TimeEntry.objects.values_list("status", flat=True)),
    )  # fmt: skip


def test_a_preview_writes_nothing_and_the_real_run_writes_its_figures(client, month):
    before = _written()
    preview = preview_billing_run(period=NOV, legal_entity_code=None, customer_id=None, user=None)
    assert _written() == before  # no run, draft, history row, trace step or message kept
    [draft] = preview.drafts
    assert draft.invoice_id is None and preview.counts["entries_added"] == 2
    assert (str(draft.net), str(draft.tax), str(draft.gross)) == (
        "1,425.00 USD",
        "114.00 USD",
        "1,539.00 USD",
    )
    call_command("billing_run", "--period", "2026-11")
    invoice = Invoice.objects.get()
    assert (invoice.net_total, invoice.tax_total, invoice.gross_total) == (
        draft.net.amount, draft.tax.amount, draft.gross.amount,
    )  # fmt: skip
    lines = [
        (line.kind, line.description, line.hours, line.amount)
        for line in invoice.lines.order_by("pk")
    ]
    assert lines == [
        (line.kind, line.description, line.hours, line.amount.amount) for line in draft.lines
    ]


def test_a_preview_of_a_month_already_drafted_shows_the_change(client, psa_secret, month):
    call_command("billing_run", "--period", "2026-11")
    approve(client, psa_secret, time_entry_id="TE-3", hours="1.00")
    [draft] = preview_billing_run(
        period=NOV, legal_entity_code=None, customer_id=None, user=None
    ).drafts
    invoice = Invoice.objects.get()
    assert draft.invoice_id == invoice.pk and invoice.gross_total == D("1539.00")  # unchanged
    assert (str(draft.gross), str(draft.gross_before), str(draft.change)) == (
        "1,701.00 USD", "1,539.00 USD", "162.00 USD",
    )  # fmt: skip


def test_the_page_shows_the_preview_and_offers_the_real_run(client, month):
    make_user("fin", "finance")
    client.login(username="fin", password="pw-fin")
    page = client.post(
        "/billing-runs/preview/", {"period": "2026-11", "legal_entity": ""}
    ).content.decode()
    assert "A preview: nothing was written" in page and "New draft" in page
    assert "1,539.00 USD" in page and "Run it for real" in page
    assert not Invoice.objects.exists()
    refused = client.post("/billing-runs/preview/", {"period": "November"}, follow=True)
    assert "&#x27;November&#x27; is not YYYY-MM" in refused.content.decode()


def test_the_api_previews_a_run(month, api_client_for):
    answer = api_client_for("finance").post(
        "/api/v1/billing-runs/preview/", {"period": "2026-11"}, format="json"
    )
    assert answer.status_code == 200, answer.content
    [draft] = answer.json()["drafts"]
    assert draft["invoice_id"] is None and draft["gross"] == {
        "amount": "1539.00",
        "currency": "USD",
    }
    assert not Invoice.objects.exists()


def test_a_rate_card_change_is_previewed_with_the_time_it_would_rate(
    client, psa_secret, api_client_for
):
    f.standard_world()
    f.role("partner")
    approve(
        client, psa_secret, time_entry_id="TE-H", role="partner", hours="7.50"
    )  # no partner rate: held
    from billing.models import RateCard

    card = RateCard.objects.get(code="US-STD")
    body = {"code": "US-STD", "legal_entity": "US01", "currency": "USD", "standard": True, "versions": [
        {"valid_from": "2026-01-01", "rates": [{"role": "consultant", "hourly": "150.00"},
                                               {"role": "partner", "hourly": "250.00"}]}]}  # fmt: skip
    preview = api_client_for("finance").post(
        f"/api/v1/rate-cards/{card.pk}/preview/", body, format="json"
    )
    assert preview.status_code == 200, preview.content
    [row] = preview.json()["entries"]
    assert (row["psa_time_entry_id"], row["status_before"], row["status_after"]) == (
        "TE-H",
        "on_hold",
        "rated",
    )
    assert row["amount_after"] == {"amount": "1875.00", "currency": "USD"}  # 7.50 h × 250.00
    assert preview.json()["totals"] == [{"amount": "1875.00", "currency": "USD"}]
    entry = TimeEntry.objects.get(psa_time_entry_id="TE-H")
    assert (
        entry.status == TimeEntry.Status.ON_HOLD and card.versions.get().rates.count() == 1
    )  # nothing kept
    saved = api_client_for("admin").put(f"/api/v1/rate-cards/{card.pk}/", body, format="json")
    assert saved.status_code == 200, saved.content
    entry.refresh_from_db()
    assert (entry.status, entry.amount) == (TimeEntry.Status.RATED, D("1875.00"))  # as previewed
