"""Period close (billing/services/periods.py): a closed month is billed no further, its
invoices are not approved, and time approved late for it lands in the next open month only
after finance approves the move. Figures by hand: TE-OCT 7.50 h and TE-NOV 2.00 h at 150.00
USD (US-STD consultant), tax 8 % (US-NY): October 1,125.00, November 300.00."""

from decimal import Decimal

import pytest
from django.core.management import CommandError, call_command

from billing.models import AccountingPeriod, Invoice, PeriodMove, TimeEntry
from billing.services.periods import late_time
from tests.billing.test_rating import approve
from tests.conftest import make_user
from tests.factories import billing_invoices as f

pytestmark = pytest.mark.django_db
D = Decimal


@pytest.fixture
def fin(client):
    make_user("fin", "finance")
    client.login(username="fin", password="pw-fin")
    return client


@pytest.fixture
def world(client, psa_secret):
    f.standard_world()
    f.tax_rate("US-NY", "0.0800")
    october = approve(
        client, psa_secret, time_entry_id="TE-OCT", hours="7.50", work_date="2026-10-20"
    )
    november = approve(
        client, psa_secret, time_entry_id="TE-NOV", hours="2.00", work_date="2026-11-02"
    )
    assert (october.amount, november.amount) == (D("1125.00"), D("300.00"))
    return october, november


def _close(fin, month: str, status: str = "closed"):
    return fin.post(
        "/periods/status/", {"legal_entity": "US01", "period": month, "status": status}, follow=True
    )


def _run(month: str, *args: str) -> None:
    call_command("billing_run", "--period", month, *args)


def test_a_closed_month_is_left_out_of_the_run_and_refused_by_name(fin, world):
    page = _close(fin, "2026-10").content.decode()
    assert "US01 2026-10 is closed." in page
    period = AccountingPeriod.objects.get()
    assert (period.status, period.closed_by.username) == ("closed", "fin")
    assert period.history.count() == 1
    _run("2026-10")
    assert not Invoice.objects.exists()  # the only entity is closed: nothing billed
    with pytest.raises(CommandError, match="US01's 2026-10 is closed"):
        _run("2026-10", "--legal-entity", "US01")


def test_late_time_of_a_closed_month_is_billed_next_month_only_after_approval(fin, world):
    october, _november = world
    _close(fin, "2026-10")
    [group] = late_time()
    assert (group.legal_entity.code, f"{group.month:%Y-%m}", group.entries, group.hours) == (
        "US01", "2026-10", 1, D("7.50"),
    )  # fmt: skip
    assert [str(m) for m in group.amounts] == [
        "1,125.00 USD"
    ] and f"{group.proposed:%Y-%m}" == "2026-11"
    _run("2026-11")  # before the move: November bills November only
    invoice = Invoice.objects.get()
    assert invoice.net_total == D("300.00")
    page = fin.get("/dashboards/finance/").content.decode()
    assert "late entries of closed months awaiting a move (7.50 h, 1,125.00 USD)" in page
    response = fin.post("/periods/late-time/move/", {"legal_entity": "US01", "period": "2026-10",
                                                     "to_period": "2026-11", "note": "approved late by PM"},
                        follow=True)  # fmt: skip
    assert (
        "1 late entries of 2026-10 (7.50 h) will be billed by the 2026-11 billing run."
        in response.content.decode()
    )
    move = PeriodMove.objects.get()
    assert (move.entries, move.hours, move.amounts, move.approved_by.username) == (
        1,
        D("7.50"),
        {"USD": "1125.00"},
        "fin",
    )
    october.refresh_from_db()
    assert f"{october.billing_period:%Y-%m}" == "2026-11" and october.period_move == move
    assert "moved to 2026-11 by fin" in october.history.first().history_change_reason
    assert late_time() == []
    _run("2026-11")
    invoice.refresh_from_db()
    assert (invoice.net_total, invoice.tax_total, invoice.gross_total) == (
        D("1425.00"),
        D("114.00"),
        D("1539.00"),
    )
    october.refresh_from_db()
    assert october.status == TimeEntry.Status.INVOICED
    assert october.billings.get(is_active=True).line.invoice == invoice  # on exactly one line


def test_moves_are_refused_into_a_closed_month_or_out_of_an_open_one(fin, world):
    _close(fin, "2026-10")
    _close(fin, "2026-11")
    refused = fin.post("/periods/late-time/move/", {"legal_entity": "US01", "period": "2026-10",
                                                    "to_period": "2026-11"}, follow=True)  # fmt: skip
    assert "2026-11 is not an open month after 2026-10" in refused.content.decode()
    [group] = [g for g in late_time() if f"{g.month:%Y-%m}" == "2026-10"]
    assert f"{group.proposed:%Y-%m}" == "2026-12"  # the first open month after
    _close(fin, "2026-11", "open")
    refused = fin.post("/periods/late-time/move/", {"legal_entity": "US01", "period": "2026-11",
                                                    "to_period": "2026-12"}, follow=True)  # fmt: skip
    assert "US01&#x27;s 2026-11 is not closed: its time is not late" in refused.content.decode()
    assert not PeriodMove.objects.exists()


def test_an_invoice_of_a_closed_month_is_not_approved(fin, world):
    _run("2026-10")
    draft = Invoice.objects.get()
    _close(fin, "2026-10")
    response = fin.post(f"/invoices/{draft.pk}/approve/", follow=True)
    assert "which is closed" in response.content.decode()
    draft.refresh_from_db()
    assert draft.status == Invoice.Status.DRAFT
    _close(fin, "2026-10", "open")  # reopened (history keeps both changes)
    assert AccountingPeriod.objects.get().history.count() == 2


def test_the_page_shows_the_months_the_late_time_and_the_moves(fin, world):
    _close(fin, "2026-10")
    page = fin.get("/periods/").content.decode()
    assert "Late time awaiting a move" in page and "October 2026" in page
    assert "1,125.00 USD" in page and "November 2026 (proposed)" in page
    assert fin.get("/periods/?legal_entity=US01").status_code == 200


def test_the_api_closes_a_month_lists_the_late_time_and_moves_it(world, api_client_for):
    api = api_client_for("finance")
    closed = api.post(
        "/api/v1/periods/",
        {"legal_entity": "US01", "period": "2026-10", "status": "closed"},
        format="json",
    )
    assert closed.status_code == 200, closed.content
    assert (closed.json()["period"], closed.json()["status"]) == ("2026-10", "closed")
    [group] = api.get("/api/v1/late-time/").json()
    usd = [{"amount": "1125.00", "currency": "USD"}]
    assert group == {"legal_entity": "US01", "period": "2026-10", "entries": 1, "hours": "7.50",
                     "amounts": usd, "proposed_period": "2026-11"}  # fmt: skip
    bad = api.post(
        "/api/v1/late-time/move/",
        {"legal_entity": "US01", "period": "2026-10", "to_period": "2026-9"},
        format="json",
    )
    assert bad.status_code == 400 and "to_period" in bad.json(), bad.json()
    moved = api.post(
        "/api/v1/late-time/move/",
        {"legal_entity": "US01", "period": "2026-10", "to_period": "2026-11"},
        format="json",
    )
    assert moved.status_code == 201 and moved.json()["amounts"] == {"USD": "1125.00"}
    again = api.post(
        "/api/v1/late-time/move/",
        {"legal_entity": "US01", "period": "2026-10", "to_period": "2026-11"},
        format="json",
    )
    assert again.status_code == 400 and again.json()["code"] == "period_refused"
